// vlmscale tasks dump --task T --split train|eval --count N [--seed S] [--image-size PX]
// [--images DIR]: the generated examples as JSON lines on stdout (index, type, question,
// question_tokens, answer, answer_id, choices and the scene's structured fields), and with
// --images each image as DIR/<index>.png. tests/tasks/question_only_test.py reads it.
#include <iostream>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "jobs/torch_jobs.h"
#include "tasks/task_dump.h"

namespace vlmscale::cli {
namespace {

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
  // The generators are libtorch code: they live in the libtorch job plugin (jobs/torch_jobs.h).
  Status loaded = jobs::LoadTorchJobs();
  if (!loaded.ok()) return ReportError("tasks", loaded);
  tasks::DumpRequest request;
  request.task = task_name;
  request.train_split = split_name == "train";
  request.count = count;
  request.seed = seed;
  request.image_size = image_size;
  request.images_dir = images;
  Status dumped = jobs::TorchJobs()->dump_tasks(request, std::cout);
  if (!dumped.ok()) return ReportError("tasks", dumped);
  return kExitOk;
}

}  // namespace

VLMSCALE_REGISTER_COMMAND("tasks", 80, "dump generated task examples as JSON lines (and PNGs)",
                          RunDump);

}  // namespace vlmscale::cli
