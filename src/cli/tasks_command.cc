// vlmscale tasks dump --task T --split train|eval --count N [--seed S] [--image-size PX]
// [--images DIR]: the generated examples as JSON lines on stdout (index, type, question,
// question_tokens, answer, answer_id, choices and the scene's structured fields), and with
// --images each image as DIR/<index>.png. tests/tasks/question_only_test.py reads it.
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "tasks/task.h"

namespace vlmscale::cli {
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

nlohmann::json SceneJson(const std::string& task, const tasks::Scene& scene) {
  nlohmann::json j;
  if (task == "shapes") {
    j["objects"] = nlohmann::json::array();
    for (const tasks::SceneObject& o : scene.objects) {
      j["objects"].push_back({{"row", o.row},
                              {"col", o.col},
                              {"color", tasks::ShapesColorName(o.color)},
                              {"shape", tasks::ShapesShapeName(o.shape)},
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

int RunDump(const std::vector<std::string>& args) {
  po::options_description options(
      "vlmscale tasks dump --task T --split train|eval --count N [options]\n\nWrites generated "
      "examples as JSON lines (one per example) to stdout");
  std::string action, task_name, split_name, images;
  int64_t count = 0, image_size = 48;
  uint64_t seed = 0;
  options.add_options()("action", po::value(&action)->required(), "dump")(
      "task", po::value(&task_name)->required(), "shapes or glyphs")(
      "split", po::value(&split_name)->required(), "train or eval")(
      "count", po::value(&count)->required(), "number of examples (indices 0..N-1)")(
      "seed", po::value(&seed)->default_value(0), "the study seed")(
      "image-size", po::value(&image_size)->default_value(48), "image side in pixels")(
      "images", po::value(&images), "also write DIR/<index>.png");
  po::positional_options_description positional;
  positional.add("action", 1);
  po::variables_map vm;
  bool help = false;
  Status s = ParseArgs("tasks", args, options, positional, &vm, &help);
  if (help) {
    std::cout << options << "\n";
    return kExitOk;
  }
  if (!s.ok()) return ReportError("tasks", s);
  if (action != "dump") {
    return ReportError("tasks", Status::InvalidInput("unknown action '" + action +
                                                     "' (known: dump); see vlmscale tasks --help"));
  }
  if (split_name != "train" && split_name != "eval") {
    return ReportError(
        "tasks", Status::InvalidInput("--split must be train or eval, not '" + split_name + "'"));
  }
  if (count < 0) {
    return ReportError("tasks",
                       Status::InvalidInput("--count must be >= 0, got " + std::to_string(count)));
  }
  tasks::TaskOptions task_options;
  task_options.image_size = image_size;
  Result<std::unique_ptr<tasks::Task>> task = tasks::MakeTask(task_name, task_options);
  if (!task.ok()) return ReportError("tasks", task.status());
  if (!images.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(images, ec);
    if (ec) {
      return ReportError("tasks", Status::IOError("cannot create --images directory '" + images +
                                                  "': " + ec.message()));
    }
  }
  const tasks::Split split = split_name == "train" ? tasks::Split::kTrain : tasks::Split::kEval;
  const tasks::Task& t = **task;
  std::vector<float> rgb(images.empty() ? 0 : 3 * image_size * image_size);
  for (int64_t i = 0; i < count; ++i) {
    const tasks::ExampleRecord r =
        t.Describe(split, seed, i, images.empty() ? nullptr : rgb.data());
    nlohmann::json j = {{"index", i},
                        {"type", t.question_types()[r.type]},
                        {"question", t.QuestionText(r.question)},
                        {"question_tokens", r.question},
                        {"answer", t.AnswerText(r.answer)},
                        {"answer_id", r.answer},
                        {"choices", r.scene.choices},
                        {"scene", SceneJson(task_name, r.scene)}};
    std::cout << j.dump() << "\n";
    if (!images.empty()) {
      const std::string path =
          (std::filesystem::path(images) / (std::to_string(i) + ".png")).string();
      std::ofstream f(path, std::ios::binary);
      f << EncodePng(rgb.data(), image_size);
      if (!f) return ReportError("tasks", Status::IOError("writing '" + path + "' failed"));
    }
  }
  std::cout.flush();
  if (!std::cout) return ReportError("tasks", Status::IOError("writing to stdout failed"));
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("tasks", 80, "dump generated task examples as JSON lines (and PNGs)",
                          RunDump);

}  // namespace vlmscale::cli
