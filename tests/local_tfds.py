"""A tensorflow-datasets builder that prepares from local PNG files (its
manual directory), to test the real tfds path without a network."""

import tensorflow_datasets as tfds


class LocalTinyImages(tfds.core.GeneratorBasedBuilder):
  """8x8 RGB PNGs from `<manual_dir>/train` and `<manual_dir>/test`."""

  VERSION = tfds.core.Version('1.0.0')
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'Put PNG files into manual_dir/{train,test}.'

  def _info(self):
    return self.dataset_info_from_configs(features=tfds.features.FeaturesDict(
        {'image': tfds.features.Image(shape=(8, 8, 3))}))

  def _split_generators(self, dl_manager):
    root = dl_manager.manual_dir
    return {split: self._generate_examples(root / split)
            for split in ('train', 'test')}

  def _generate_examples(self, folder):
    for path in sorted(folder.glob('*.png')):
      yield path.name, {'image': str(path)}
