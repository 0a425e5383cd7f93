// ReadStages (config/sweep.h): the [stage.NAME] sections of a config as StageSpecs, checked and
// in dependency order (docs/STAGES.md).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "config/sweep.h"
#include "core/strings.h"

namespace vlmscale::config {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The stage section's own axes: axis.NAME keys, in the order of their lines.
Result<std::vector<std::pair<std::string, std::vector<std::string>>>> ReadOwnAxes(
    const Config& c, const std::string& stage) {
  const std::string prefix = "stage." + stage + ".axis.";
  std::vector<std::pair<int, std::string>> keys;  // (line, key)
  for (const auto& [key, value] : c.values()) {
    if (!StartsWith(key, prefix)) continue;
    size_t colon = value.origin.rfind(':');
    int line = colon == std::string::npos ? 0 : std::atoi(value.origin.c_str() + colon + 1);
    keys.emplace_back(line, key);
  }
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  for (const auto& [line, key] : keys) {
    std::string name = key.substr(prefix.size());
    bool ident = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char ch : name)
      ident = ident && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!ident) {
      return KeyError(c, key, "an axis name is letters, digits and '_', not starting with a digit");
    }
    if (Contains(GridAxes(), name) || name == "n_params" || name == "stage") {
      return KeyError(c, key,
                      "'" + name + "' is a grid axis or a reserved name; list grid axes " +
                          "in stage." + stage + ".over and their values in [grid]");
    }
    axes.emplace_back(name, c.GetList(key));
  }
  return axes;
}

// "a -> b -> a" for a cycle through `start`, or "" if none (stages by name).
std::string FindCycle(const std::map<std::string, std::vector<std::string>>& needs,
                      const std::string& start) {
  std::vector<std::string> path;
  std::set<std::string> on_path, finished;
  std::string found;
  std::function<bool(const std::string&)> visit = [&](const std::string& s) {
    if (on_path.count(s)) {
      auto it = std::find(path.begin(), path.end(), s);
      std::vector<std::string> cycle(it, path.end());
      cycle.push_back(s);
      found = Join(cycle, " -> ");
      return true;
    }
    if (finished.count(s)) return false;
    on_path.insert(s);
    path.push_back(s);
    for (const auto& n : needs.at(s)) {
      if (visit(n)) return true;
    }
    path.pop_back();
    on_path.erase(s);
    finished.insert(s);
    return false;
  };
  visit(start);
  return found;
}

}  // namespace

Result<std::vector<StageSpec>> ReadStages(const Config& c) {
  std::vector<std::string> names = c.StageNames();
  if (names.empty()) return std::vector<StageSpec>{};
  if (c.IsSet("job.type")) {
    return KeyError(c, "job.type",
                    "the config has [stage.NAME] sections (" + Join(names, ", ") +
                        "): each stage names its job type (stage.NAME.type); remove [job] type");
  }
  std::map<std::string, StageSpec> by_name;
  std::map<std::string, std::vector<std::string>> needs;
  for (const auto& name : names) {
    const std::string p = "stage." + name + ".";
    StageSpec s;
    s.name = name;
    s.job_type = c.GetString(p + "type");
    std::vector<std::string> over = c.GetList(p + "over");
    for (const auto& axis : over) {
      if (Contains(GridAxes(), axis)) continue;
      std::string hint = ClosestMatch(axis, GridAxes());
      return KeyError(c, p + "over",
                      "unknown grid axis '" + axis + "' (expected some of " +
                          Join(GridAxes(), ", ") + "; a stage's own axes are axis.NAME keys)" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    for (const auto& axis : GridAxes()) {
      if (Contains(over, axis)) s.over.push_back(axis);
    }
    VLM_ASSIGN_OR_RETURN(s.axes, ReadOwnAxes(c, name));
    if (!Trim(c.GetString(p + "needs")).empty()) s.needs = c.GetList(p + "needs");
    for (const auto& n : s.needs) {
      if (n.empty() || std::count(s.needs.begin(), s.needs.end(), n) > 1) {
        return KeyError(c, p + "needs",
                        "expected distinct stage names separated by ',', got '" +
                            c.GetString(p + "needs") + "'");
      }
      if (Contains(names, n)) continue;
      std::string hint = ClosestMatch(n, names);
      return KeyError(c, p + "needs",
                      "unknown stage '" + n + "' (stages: " + Join(names, ", ") + ")" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    needs[name] = s.needs;
    by_name[name] = std::move(s);
  }
  for (const auto& name : names) {
    std::string cycle = FindCycle(needs, name);
    if (!cycle.empty()) {
      return KeyError(c, "stage." + name + ".needs",
                      "the stages' needs form a cycle: " + cycle +
                          " (a stage can only need stages that run before it)");
    }
  }
  // A child varies at least its parents' axes, so each child job has exactly one parent job
  // per needed stage.
  for (const auto& name : names) {
    const StageSpec& s = by_name[name];
    for (const auto& n : s.needs) {
      const StageSpec& parent = by_name[n];
      for (const auto& axis : parent.over) {
        if (s.Varies(axis)) continue;
        return KeyError(c, "stage." + name + ".over",
                        "stage '" + name + "' needs '" + n + "', which varies " + axis + ": '" +
                            name + "' must vary it too (each job needs exactly one job of " + "'" +
                            n + "')");
      }
      for (const auto& [axis, values] : parent.axes) {
        bool has = false;
        for (const auto& own : s.axes) has = has || own.first == axis;
        if (has) continue;
        return KeyError(c, "stage." + name + ".needs",
                        "stage '" + name + "' needs '" + n + "', which has its own axis '" + axis +
                            "': give '" + name + "' the axis too (axis." + axis + ")");
      }
    }
  }
  // Dependency order: repeatedly take the first stage (by name) whose needs are placed.
  std::vector<StageSpec> ordered;
  std::set<std::string> placed;
  while (ordered.size() < names.size()) {
    for (const auto& name : names) {
      if (placed.count(name)) continue;
      bool ready = true;
      for (const auto& n : needs[name]) ready = ready && placed.count(n) > 0;
      if (!ready) continue;
      ordered.push_back(by_name[name]);
      placed.insert(name);
      break;
    }
  }
  return ordered;
}

}  // namespace vlmscale::config
