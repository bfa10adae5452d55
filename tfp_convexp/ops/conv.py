"""Stride-1 2-D convolutions with zero or circular padding, and their adjoints.

Kernels use the `tf.nn.conv2d` layout `[k_h, k_w, C_in, C_out]` with odd
spatial sizes, so 'SAME' keeps the image size and the centre tap sits at
`((k_h - 1) / 2, (k_w - 1) / 2)`.
"""

import numpy as np
import tensorflow as tf

from tfp_convexp.ops import xla

__all__ = ['PADDINGS', 'conv2d', 'adjoint_kernel', 'conv2d_kernel_grad',
           'circular_pad', 'channel_matmul', 'conv_matrix']

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
  if padding != 'VALID' and xla.tracing_xla_control_flow():
    return _conv2d_differentiated_by_convolutions(x, kernel, padding)
  return _conv2d(x, kernel, padding)


def _conv2d(x, kernel, padding):
  if padding == 'CIRCULAR':
    return tf.nn.conv2d(circular_pad(x, *_half_sizes(kernel)), kernel, 1,
                        'VALID')
  return tf.nn.conv2d(x, kernel, 1, padding)


def _conv2d_differentiated_by_convolutions(x, kernel, padding):
  """`conv2d` whose gradients are forward convolutions.

  Inside a `tf.while_loop` body or a `tf.cond` branch, XLA:CPU runs
  TensorFlow's convolution gradients (`Conv2DBackpropInput`,
  `Conv2DBackpropFilter`) more than ten times slower than outside, and
  forward convolutions at full speed
  (benchmarks/results/implementation_choices.md).
  XLA also keeps every op of a loop body, so the kernel gradient is paid
  even where only the input gradient is used, as in the residual flows'
  vector-Jacobian products. Outside control flow TensorFlow's gradients are
  faster, so only these bodies take this path.
  """

  @tf.custom_gradient
  def conv(x, kernel):
    def grad(dy):
      return (_conv2d(dy, adjoint_kernel(kernel), padding),
              _kernel_grad_by_convolution(x, dy, kernel, padding))
    return _conv2d(x, kernel, padding), grad

  # A variable passed on would be read inside, where the gradient needs it
  # declared; its value is what the convolution uses.
  return conv(x, tf.convert_to_tensor(kernel))


def _kernel_grad_by_convolution(u, v, kernel, padding):
  """`conv2d_kernel_grad` as one forward convolution: the batch becomes the
  channel axis, summed over, and `v` the (image-sized) filter."""
  pad_h, pad_w = _half_sizes(kernel)
  if padding == 'CIRCULAR':
    u = circular_pad(u, pad_h, pad_w)
  else:
    u = tf.pad(u, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]])
  out = tf.nn.conv2d(tf.transpose(u, [3, 1, 2, 0]),
                     tf.transpose(v, [1, 2, 0, 3]), 1, 'VALID')
  return tf.transpose(out, [1, 2, 0, 3])


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


def conv_matrix(kernel, spatial_shape, padding='SAME'):
  """The dense `[H W C_in, H W C_out]` matrix `A` of `conv2d`:
  `flat(conv2d(x, K)) = flat(x) @ A`, `flat` the row-major `(H, W, C)`
  order (so `A` is the transpose of the usual column-vector matrix).

  One contraction of the kernel with a constant 0/1 table of which tap joins
  which pair of pixels; taps that wrap onto the same pixel add up.
  """
  kernel = tf.convert_to_tensor(kernel)
  k_h, k_w, c_in, c_out = (int(s) for s in kernel.shape)
  height, width = (int(s) for s in spatial_shape)
  pad_h, pad_w = _half_sizes(kernel)
  table = np.zeros([k_h * k_w, height * width, height * width],
                   kernel.dtype.as_numpy_dtype)
  for a in range(k_h):
    for b in range(k_w):
      for i in range(height):
        for j in range(width):
          si, sj = i + a - pad_h, j + b - pad_w
          if padding == 'CIRCULAR':
            si, sj = si % height, sj % width
          elif not (0 <= si < height and 0 <= sj < width):
            continue
          table[a * k_w + b, si * width + sj, i * width + j] += 1.
  pairs = tf.einsum('tpq,tio->piqo', tf.constant(table),
                    tf.reshape(kernel, [k_h * k_w, c_in, c_out]))
  return tf.reshape(pairs, [height * width * c_in, height * width * c_out])
