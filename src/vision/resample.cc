// Replicates Pillow's ImagingResample for 8-bit RGB with the BICUBIC filter (Resample.c):
//   - precompute_coeffs(): scale = in / out; filterscale = max(scale, 1) (antialiasing: the
//     kernel is stretched when downscaling); support = 2 * filterscale;
//     ksize = ceil(support) * 2 + 1; for output index i: center = (i + 0.5) * scale,
//     xmin = max(int(center - support + 0.5), 0), xmax = min(int(center + support + 0.5), in),
//     w[x] = bicubic((x + xmin - center + 0.5) / filterscale) for x in [0, xmax - xmin), each
//     divided by their sum (when non-zero). All in double.
//   - normalize_coeffs_8bpc(): w * 2^22 rounded half away from zero, to int32.
//   - ImagingResampleHorizontal/Vertical_8bpc: acc = 2^21 + sum(pixel * w) in int32, then
//     clip8(acc >> 22) (arithmetic shift, clamped to 0..255).
//   - ImagingResampleInner(): the horizontal pass runs first, only over the source rows the
//     vertical pass will read (ybox_first..ybox_last), into an 8-bit intermediate image; then
//     the vertical pass. A pass whose size does not change is skipped; no pass at all is a copy.
// The Keys cubic (a = -0.5) is evaluated in the same operation order as Pillow, with products
// kept from fusing into FMAs (Pillow's x86-64 builds do not fuse), so that coefficients, and
// hence pixels, are identical.
#include "vision/resample.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace dsvl2 {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

// Rounds a product to double without letting the compiler fuse it into a following add.
inline double Product(double a, double b) {
  volatile double p = a * b;
  return p;
}

// Resample.c bicubic_filter with `#define a -0.5`.
double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return Product(Product(Product((a + 2.0), x) - (a + 3.0), x), x) + 1;
  if (x < 2.0) return Product(Product(Product((x - 5), x) + 8, x) - 4, a);
  return 0.0;
}

struct Coefficients {
  int ksize = 0;
  std::vector<int> xmin;   // first source index per output index
  std::vector<int> count;  // number of taps per output index
  std::vector<int32_t> k;  // out_size * ksize fixed-point weights
};

Coefficients PrecomputeCoefficients(int in_size, int out_size) {
  constexpr double kSupport = 2.0;  // BICUBIC support
  // Pillow: scale = (double)(in1 - in0) / outSize with the float box (0, in_size).
  const double scale = double(float(in_size) - 0.0f) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  Coefficients c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.xmin.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = 0.0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    if (xmax > c.ksize) xmax = c.ksize;  // cannot happen; keeps indexing in bounds
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double v = BicubicFilter((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    int32_t* k = &c.k[size_t(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      // normalize_coeffs_8bpc: round half away from zero.
      k[x] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits))
                   : int32_t(0.5 + v * (1 << kPrecisionBits));
    }
    c.xmin[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int acc) {  // clip8(): lookup of acc >> PRECISION_BITS, clamped
  const int v = acc >> kPrecisionBits;
  return v < 0 ? 0 : v > 255 ? 255 : uint8_t(v);
}

// Horizontal pass over source rows [row0, row0 + rows) of an RGB8 image `in_w` wide.
void ResampleHorizontal(const uint8_t* in, int in_w, int row0, int rows, const Coefficients& c,
                        int out_w, uint8_t* out) {
  for (int yy = 0; yy < rows; ++yy) {
    const uint8_t* src = in + size_t(row0 + yy) * in_w * 3;
    uint8_t* dst = out + size_t(yy) * out_w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int32_t* k = &c.k[size_t(xx) * c.ksize];
      const uint8_t* p = src + size_t(c.xmin[xx]) * 3;
      int ss0 = 1 << (kPrecisionBits - 1), ss1 = ss0, ss2 = ss0;
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        ss0 += p[0] * k[x];
        ss1 += p[1] * k[x];
        ss2 += p[2] * k[x];
      }
      dst[3 * xx] = Clip8(ss0);
      dst[3 * xx + 1] = Clip8(ss1);
      dst[3 * xx + 2] = Clip8(ss2);
    }
  }
}

// Vertical pass; `row_offset` is subtracted from the coefficient bounds (the intermediate
// image starts at source row ybox_first).
void ResampleVertical(const uint8_t* in, int width, const Coefficients& c, int row_offset,
                      int out_h, uint8_t* out) {
  const size_t stride = size_t(width) * 3;
  for (int yy = 0; yy < out_h; ++yy) {
    const int32_t* k = &c.k[size_t(yy) * c.ksize];
    const uint8_t* col = in + size_t(c.xmin[yy] - row_offset) * stride;
    uint8_t* dst = out + size_t(yy) * stride;
    for (size_t i = 0; i < stride; ++i) {
      int ss = 1 << (kPrecisionBits - 1);
      const uint8_t* p = col + i;
      for (int y = 0; y < c.count[yy]; ++y, p += stride) ss += *p * k[y];
      dst[i] = Clip8(ss);
    }
  }
}

}  // namespace

Image ResizeBicubic(const Image& src, int out_width, int out_height) {
  Image out;
  if (out_width <= 0 || out_height <= 0 || src.width <= 0 || src.height <= 0 ||
      src.rgb.size() != size_t(src.width) * size_t(src.height) * 3) {
    return out;
  }
  const bool need_h = out_width != src.width;
  const bool need_v = out_height != src.height;
  if (!need_h && !need_v) return src;  // Image.resize returns a copy

  const Coefficients vert = PrecomputeCoefficients(src.height, out_height);
  // Rows of the source the vertical pass reads (ybox_first, ybox_last in Pillow).
  const int ybox_first = vert.xmin[0];
  const int ybox_last = vert.xmin[out_height - 1] + vert.count[out_height - 1];

  const uint8_t* cur = src.rgb.data();
  int cur_w = src.width;
  int row_offset = 0;
  std::vector<uint8_t> temp;
  if (need_h) {
    const Coefficients horiz = PrecomputeCoefficients(src.width, out_width);
    const int rows = need_v ? ybox_last - ybox_first : src.height;
    const int row0 = need_v ? ybox_first : 0;
    temp.resize(size_t(out_width) * rows * 3);
    ResampleHorizontal(src.rgb.data(), src.width, row0, rows, horiz, out_width, temp.data());
    cur = temp.data();
    cur_w = out_width;
    row_offset = row0;
  }
  out.width = out_width;
  out.height = out_height;
  if (need_v) {
    out.rgb.resize(size_t(out_width) * out_height * 3);
    ResampleVertical(cur, cur_w, vert, row_offset, out_height, out.rgb.data());
  } else {
    out.rgb = std::move(temp);
  }
  return out;
}

}  // namespace dsvl2
