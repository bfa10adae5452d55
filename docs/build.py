"""Builds the API reference: one HTML page per public module, from the
docstrings, with their math rendered by MathJax (served from the pages
themselves, so they work offline).

    .venv/bin/pip install '.[docs]'
    .venv/bin/python docs/build.py      # -> docs/api/index.html

Fails (exit 1) when a public symbol (a name in a public module's `__all__`,
or a public method or property of a public class) has no docstring, or when a docstring
names a `tfp_convexp.` path that does not exist; every warning of the
generator is an error too (TensorFlow's and TFP's own import-time warnings
come before it and are not).
"""

import argparse
import importlib
import os
import pkgutil
import re
import shutil
import sys
import warnings

import jupyter_server_mathjax
import pdoc
import pdoc.doc
import pdoc.render

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The modules a user imports; each gets a page (their submodules are
# implementation and are not rendered).
PUBLIC = ('tfp_convexp', 'tfp_convexp.bijectors', 'tfp_convexp.flows',
          'tfp_convexp.nets', 'tfp_convexp.ops', 'tfp_convexp.data')
_REFERENCE = re.compile(r'`(tfp_convexp(?:\.\w+)+)')


def _resolves(path):
  """Whether the dotted `tfp_convexp...` path names a module or attribute."""
  parts = path.split('.')
  for cut in range(len(parts), 0, -1):
    try:
      obj = importlib.import_module('.'.join(parts[:cut]))
    except ImportError:
      continue
    for name in parts[cut:]:
      if not hasattr(obj, name):
        return False
      obj = getattr(obj, name)
    return True
  return False


def _public_page(module):
  """pdoc's documentation of a public package: its `__all__`, with the
  docstrings its variables have where they are defined (pdoc reads a
  variable's docstring in that module only), and no links to the
  implementation modules, which get no page."""
  page = pdoc.doc.Module(module)
  page.__dict__['submodules'] = []
  defined = {}
  for info in pkgutil.walk_packages(module.__path__, module.__name__ + '.') if (
      hasattr(module, '__path__')) else ():
    source = pdoc.doc.Module(importlib.import_module(info.name))
    for name, variable in source.members.items():
      if isinstance(variable, pdoc.doc.Variable) and variable.docstring:
        defined[id(variable.default_value)] = variable.docstring
  for variable in page.members.values():
    if isinstance(variable, pdoc.doc.Variable) and not variable.docstring:
      variable.__dict__['docstring'] = defined.get(id(variable.default_value),
                                                   '')
  return page


def problems(modules):
  """Undocumented public symbols and broken `tfp_convexp.` references."""
  found = []
  for module in modules:
    docs = [(module.modulename, module.docstring)]
    for member in module.members.values():
      where = f'{module.modulename}.{member.name}'
      docs.append((where, member.docstring))
      if not member.docstring.strip():
        found.append(f'{where}: no docstring')
      if isinstance(member, pdoc.doc.Class):
        for sub in member.own_members:
          # Methods and properties; not the attributes `__init__` sets (a
          # net's sublayers), which the class's docstring describes.
          if sub.name.startswith('_') or not hasattr(member.obj, sub.name):
            continue
          docs.append((f'{where}.{sub.name}', sub.docstring))
          if not sub.docstring.strip():
            found.append(f'{where}.{sub.name}: no docstring')
    for where, text in docs:
      for path in _REFERENCE.findall(text):
        if not _resolves(path):
          found.append(f'{where}: names `{path}`, which does not exist')
  return found


_HREF = re.compile(r'(?:href|src)="([^"#?]*)[^"]*"')


def broken_links(out):
  """Links of the written pages to files that do not exist."""
  found = []
  for root, _, files in os.walk(out):
    if root.startswith(os.path.join(out, 'mathjax')):
      continue
    for name in files:
      if not name.endswith('.html'):
        continue
      page = os.path.join(root, name)
      with open(page) as f:
        for target in _HREF.findall(f.read()):
          if not target or '${' in target or re.match(r'[a-z]+:', target):
            continue  # an anchor, a script's template, another site
          if not os.path.exists(os.path.join(root, target)):
            found.append(f'{os.path.relpath(page, out)} -> {target}')
  return sorted(set(found))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default=os.path.join(HERE, 'api'),
                      help='output directory (replaced)')
  out = parser.parse_args().out
  sys.path.insert(0, ROOT)
  pdoc.render.configure(docformat='markdown', math=True,
                        template_directory=os.path.join(HERE, 'templates'),
                        footer_text='tfp_convexp API reference')
  imported = [importlib.import_module(name) for name in PUBLIC]
  warnings.simplefilter('error')  # from here on, the generator's warnings
  modules = {m.__name__: _public_page(m) for m in imported}
  found = problems(modules.values())
  if found:
    print('docs/build.py: the reference is incomplete:\n  ' +
          '\n  '.join(found), file=sys.stderr)
    sys.exit(1)
  if os.path.exists(out):
    shutil.rmtree(out)
  # As `pdoc.pdoc` writes them, but the public modules' pages only.
  for name, module in modules.items():
    path = os.path.join(out, *name.split('.')[:-1], name.split('.')[-1] +
                        '.html')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
      f.write(pdoc.render.html_module(module, modules))
  with open(os.path.join(out, 'index.html'), 'w') as f:
    f.write(pdoc.render.html_index(modules))
  with open(os.path.join(out, 'search.js'), 'w') as f:
    f.write(pdoc.render.search_index(modules))
  shutil.copytree(os.path.join(os.path.dirname(jupyter_server_mathjax.__file__),
                               'static'), os.path.join(out, 'mathjax'))
  # The examples the package page links, beside the pages.
  shutil.copytree(os.path.join(ROOT, 'examples'), os.path.join(out, 'examples'),
                  ignore=shutil.ignore_patterns('out', '__pycache__'))
  broken = broken_links(out)
  if broken:
    print('docs/build.py: broken links:\n  ' + '\n  '.join(broken),
          file=sys.stderr)
    sys.exit(1)
  pages = sorted(os.path.relpath(os.path.join(r, f), out)
                 for r, _, files in os.walk(out) for f in files
                 if f.endswith('.html') and not r.startswith(
                     os.path.join(out, 'mathjax')))
  print(f'wrote {len(pages)} pages to {out}: {", ".join(pages)}')


if __name__ == '__main__':
  main()
