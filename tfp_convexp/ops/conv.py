"""Stride-1 2-D convolutions with zero or circular padding, and their adjoints.

Kernels use the `tf.nn.conv2d` layout `[k_h, k_w, C_in, C_out]` with odd
spatial sizes, so 'SAME' keeps the image size and the centre tap sits at
`((k_h - 1) / 2, (k_w - 1) / 2)`.
"""

import tensorflow as tf

__all__ = ['PADDINGS', 'conv2d', 'adjoint_kernel', 'conv2d_kernel_grad',
           'circular_pad', 'channel_matmul']

PADDINGS = ('SAME', 'CIRCULAR')


def circular_pad(x, pad_h, pad_w):
  """Wraps `pad_h` rows and `pad_w` columns around an NHWC tensor."""
  if pad_h:
    x = tf.concat([x[:, -pad_h:], x, x[:, :pad_h]], axis=1)
  if pad_w:
    x = tf.concat([x[:, :, -pad_w:], x, x[:, :, :pad_w]], axis=2)
  return x


def _half_sizes(kernel):
  return (int(kernel.shape[0]) - 1) // 2, (int(kernel.shape[1]) - 1) // 2


def conv2d(x, kernel, padding='SAME'):
  """`M x`: the stride-1 convolution (cross-correlation) of `x`; 'SAME' and
  'CIRCULAR' keep the image size, 'VALID' shrinks it by the kernel size - 1.

  A batch known to be empty is answered without convolving: on CPUs where
  TensorFlow 2.21 runs float32 convolutions through oneDNN (AVX-512), an
  empty batch comes back in the input's shape (`[0, H, W, C_in]`), and no
  reshape after it survives graph optimisation.
  """
  if x.shape[0] == 0:
    shrink = (int(kernel.shape[0]) - 1, int(kernel.shape[1]) - 1) if (
        padding == 'VALID') else (0, 0)
    spatial = [tf.shape(x)[1] - shrink[0], tf.shape(x)[2] - shrink[1]]
    return tf.zeros([0, *spatial, int(kernel.shape[3])], x.dtype)
  if padding == 'CIRCULAR':
    return tf.nn.conv2d(circular_pad(x, *_half_sizes(kernel)), kernel, 1,
                        'VALID')
  return tf.nn.conv2d(x, kernel, 1, padding)


def adjoint_kernel(kernel):
  """Kernel of `M^T`: spatially flipped, input and output channels swapped.

  Exact for odd kernels with either padding, because both the zero-padded
  and the circular convolution matrices are block-Toeplitz in the offset.
  """
  return tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])


def conv2d_kernel_grad(u, v, kernel, padding='SAME'):
  """`d <v, conv2d(u, K)> / dK` at any `K` shaped like `kernel`."""
  strides = [1, 1, 1, 1]
  filter_sizes = tf.shape(kernel)
  if padding == 'CIRCULAR':
    return tf.raw_ops.Conv2DBackpropFilter(
        input=circular_pad(u, *_half_sizes(kernel)), filter_sizes=filter_sizes,
        out_backprop=v, strides=strides, padding='VALID')
  return tf.raw_ops.Conv2DBackpropFilter(
      input=u, filter_sizes=filter_sizes, out_backprop=v, strides=strides,
      padding='SAME')


def channel_matmul(x, matrix):
  """`y[..., o] = sum_i matrix[o, i] x[..., i]`: a 1x1 convolution.

  A reshape to `[N, C]` and one matmul: `tf.einsum('...i,oi->...o')` gives
  the same values, but its gradient is much slower under XLA
  (benchmarks/results/implementation_choices.md).
  """
  x = tf.convert_to_tensor(x)
  channels = tf.shape(x)[-1]
  flat = tf.matmul(tf.reshape(x, [-1, channels]), matrix, transpose_b=True)
  return tf.reshape(flat, tf.concat([tf.shape(x)[:-1], tf.shape(matrix)[:1]],
                                    0))
