// libFuzzer target over DecodeImage (every format) and, for small decoded images, the tiling
// path (PadImage / Pillow bicubic resize / MakeTiles) with a small tile size. Built and run by
// run_image_fuzz.sh with clang++ -fsanitize=fuzzer,address,undefined.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "io/image.h"
#include "vision/preprocess.h"

namespace {

[[noreturn]] void Fail() { std::abort(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dsvl2::DecodeOptions options;
  options.max_pixels = 1 << 21;  // 2 Mpx keeps iterations fast; the limit path is exercised too
  dsvl2::StatusOr<dsvl2::Image> image = dsvl2::DecodeImage(data, size, options);
  if (!image.ok()) {
    if (image.status().message().empty()) Fail();  // every error explains itself
    return 0;
  }
  const dsvl2::Image& im = *image;
  if (im.width <= 0 || im.height <= 0 || int64_t(im.width) * im.height > options.max_pixels ||
      im.rgb.size() != size_t(im.width) * size_t(im.height) * 3) {
    Fail();
  }
  if (int64_t(im.width) * im.height <= 64 * 64) {
    // Candidates like the official ones, scaled to a 16-pixel tile.
    const std::vector<std::pair<int, int>> candidates = {{16, 16}, {16, 32}, {32, 16}, {32, 32},
                                                         {16, 48}, {48, 16}, {48, 48}};
    const bool cropping = (size & 1) != 0;
    const dsvl2::ImageTiles tiles = dsvl2::MakeTiles(im, candidates, 16, cropping);
    if (tiles.tiles_u8.size() != size_t(tiles.num_tiles()) * 3 * 16 * 16) Fail();
    if (!cropping && (tiles.tiles_w != 1 || tiles.tiles_h != 1)) Fail();
  }
  return 0;
}
