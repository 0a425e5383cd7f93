#include "tasks/task_dump.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "tasks/task.h"

namespace vlmscale::tasks {
namespace {

uint32_t Crc32(const uint8_t* data, size_t n, uint32_t crc = 0) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void PutU32(std::string* s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s->push_back(static_cast<char>((v >> shift) & 0xFF));
}

void PutChunk(std::string* png, const char* type, const std::string& data) {
  PutU32(png, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  png->append(body);
  PutU32(png, Crc32(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

// An 8-bit RGB PNG of a CHW float image in [0, 1], its zlib stream made of stored (uncompressed)
// deflate blocks: no compression library needed.
std::string EncodePng(const float* chw, int64_t size) {
  std::string raw;
  raw.reserve(static_cast<size_t>(size * (3 * size + 1)));
  for (int64_t y = 0; y < size; ++y) {
    raw.push_back(0);  // Filter: none.
    for (int64_t x = 0; x < size; ++x) {
      for (int64_t ch = 0; ch < 3; ++ch) {
        const float v = std::min(1.0f, std::max(0.0f, chw[ch * size * size + y * size + x]));
        raw.push_back(static_cast<char>(static_cast<uint8_t>(std::lround(v * 255.0f))));
      }
    }
  }
  std::string z = {0x78, 0x01};  // zlib header: deflate, 32K window, no dictionary.
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);  // BFINAL, BTYPE = 00 (stored).
    z.push_back(static_cast<char>(n & 0xFF)), z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 0xFF)), z.push_back(static_cast<char>((~n >> 8) & 0xFF));
    z.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;  // Adler-32 of the uncompressed data.
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  PutU32(&z, (b << 16) | a);

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  PutU32(&header, static_cast<uint32_t>(size));
  PutU32(&header, static_cast<uint32_t>(size));
  header +=
      std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, filter 0, no interlace.
  PutChunk(&png, "IHDR", header);
  PutChunk(&png, "IDAT", z);
  PutChunk(&png, "IEND", "");
  return png;
}

nlohmann::json SceneJson(const std::string& task, const Scene& scene) {
  nlohmann::json j;
  if (task == "shapes") {
    j["objects"] = nlohmann::json::array();
    for (const SceneObject& o : scene.objects) {
      j["objects"].push_back({{"row", o.row},
                              {"col", o.col},
                              {"color", ShapesColorName(o.color)},
                              {"shape", ShapesShapeName(o.shape)},
                              {"x", o.x},
                              {"y", o.y},
                              {"size", o.size}});
    }
  } else {
    j["lines"] = scene.lines;
    j["x0"] = scene.x0, j["y0"] = scene.y0;
    j["cell_width"] = scene.cell_width, j["cell_height"] = scene.cell_height;
  }
  return j;
}

}  // namespace

Status DumpExamples(const DumpRequest& request, std::ostream& out) {
  const std::string& images = request.images_dir;
  TaskOptions task_options;
  task_options.image_size = request.image_size;
  Result<std::unique_ptr<Task>> task = MakeTask(request.task, task_options);
  if (!task.ok()) return task.status();
  if (!images.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(images, ec);
    if (ec) {
      return Status::IOError("cannot create --images directory '" + images + "': " + ec.message());
    }
  }
  const Split split = request.train_split ? Split::kTrain : Split::kEval;
  const Task& t = **task;
  const int64_t size = request.image_size;
  std::vector<float> rgb(images.empty() ? 0 : 3 * size * size);
  for (int64_t i = 0; i < request.count; ++i) {
    const ExampleRecord r =
        t.Describe(split, request.seed, i, images.empty() ? nullptr : rgb.data());
    nlohmann::json j = {{"index", i},
                        {"type", t.question_types()[r.type]},
                        {"question", t.QuestionText(r.question)},
                        {"question_tokens", r.question},
                        {"answer", t.AnswerText(r.answer)},
                        {"answer_id", r.answer},
                        {"choices", r.scene.choices},
                        {"scene", SceneJson(request.task, r.scene)}};
    out << j.dump() << "\n";
    if (!images.empty()) {
      const std::string path =
          (std::filesystem::path(images) / (std::to_string(i) + ".png")).string();
      std::ofstream f(path, std::ios::binary);
      f << EncodePng(rgb.data(), size);
      if (!f) return Status::IOError("writing '" + path + "' failed");
    }
  }
  out.flush();
  if (!out) return Status::IOError("writing the JSON lines failed (stdout closed or full?)");
  return Status::OK();
}

}  // namespace vlmscale::tasks
