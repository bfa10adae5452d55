"""A check shared by the flag tests, importable by a program's process."""


def unchecked_number_flags(flag_values):
  """Integer and float flags of the `train` programs with neither a bound
  nor a validator (aliases are checked as their flags)."""
  unchecked = []
  for name, flag in flag_values._flags().items():  # pylint: disable=protected-access
    module = flag_values.find_module_defining_flag(name) or ''
    alias = type(flag).__name__ == '_FlagAlias'
    if (module.startswith('train') and not alias and
        flag.flag_type() in ('int', 'float') and
        getattr(flag.parser, 'lower_bound', None) is None and
        not flag.validators):
      unchecked.append(name)
  return sorted(set(unchecked))
