"""The API reference (`docs/build.py`): it builds, has a page per public
module and an entry per public layer, and refuses what is missing."""

import importlib.util
import os

import pdoc.doc
import pytest

from tfp_convexp import bijectors

import programs

BUILD = os.path.join(programs.ROOT, 'docs', 'build.py')


def _build_module():
  spec = importlib.util.spec_from_file_location('docs_build', BUILD)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_undocumented_symbols_broken_references_and_links_are_found(
    tmp_path, monkeypatch):
  build = _build_module()
  (tmp_path / 'half_documented.py').write_text(
      '"""Names `tfp_convexp.flows.make_flow` and `tfp_convexp.no_such`."""\n'
      '__all__ = ["documented", "undocumented", "Layer"]\n'
      'def documented():\n  """Here."""\n'
      'def undocumented():\n  pass\n'
      'class Layer:\n  """A class."""\n'
      '  @property\n  def size(self):\n    return 1\n')
  monkeypatch.syspath_prepend(str(tmp_path))
  page = pdoc.doc.Module(importlib.import_module('half_documented'))
  assert build.problems([page]) == [
      'half_documented.undocumented: no docstring',
      'half_documented.Layer.size: no docstring',
      'half_documented: names `tfp_convexp.no_such`, which does not exist']
  (tmp_path / 'site').mkdir()
  (tmp_path / 'site' / 'a.html').write_text(
      '<a href="b.html#x">b</a> <a href="missing.html">m</a> '
      '<a href="https://example.com">e</a> <a href="#top">t</a>')
  (tmp_path / 'site' / 'b.html').write_text('')
  assert build.broken_links(str(tmp_path / 'site')) == [
      'a.html -> missing.html']


@pytest.mark.slow
def test_the_reference_builds(tmp_path):
  out = str(tmp_path / 'api')
  text = programs.python(BUILD, f'--out={out}').stdout
  assert 'wrote 7 pages' in text
  pages = {name: open(os.path.join(out, *name.split('.')[:-1],
                                   name.split('.')[-1] + '.html')).read()
           for name in _build_module().PUBLIC}
  for name in bijectors.__all__:  # every public layer has its entry
    assert f'id="{name}"' in pages['tfp_convexp.bijectors'], name
  assert 'mathjax/MathJax.js' in pages['tfp_convexp.bijectors']
  assert os.path.exists(os.path.join(out, 'mathjax', 'MathJax.js'))
  assert r'\text{forward:}' in pages['tfp_convexp.bijectors']
  for example in ('convexp_by_hand.py', 'own_layer.py',
                  'class_conditional_digits.py', 'convexp_exactness.py'):
    assert f'href="examples/{example}"' in pages['tfp_convexp']
    assert os.path.exists(os.path.join(out, 'examples', example))
