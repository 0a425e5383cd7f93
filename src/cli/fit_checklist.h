// The "how this fit was made" checklist of docs/FIT.md, filled in from a fit JSON document.
#ifndef VLMSCALE_CLI_FIT_CHECKLIST_H_
#define VLMSCALE_CLI_FIT_CHECKLIST_H_

#include <nlohmann/json.hpp>
#include <string>

namespace vlmscale::cli {

// The checklist of a fit JSON document (its manifest and fits): [{item, status ("ok", "missing",
// "warn" or "next"), answer}].
nlohmann::json Checklist(const nlohmann::json& doc);

// The checklist as the text report prints it, one line per item.
std::string ChecklistText(const nlohmann::json& items);

}  // namespace vlmscale::cli

#endif  // VLMSCALE_CLI_FIT_CHECKLIST_H_
