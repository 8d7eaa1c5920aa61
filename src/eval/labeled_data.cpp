#include "eval/labeled_data.h"

#include <sstream>

#include "util/files.h"
#include "util/json_limits.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "eval/csv.h"
#include "eval/tasks.h"

namespace aio::eval {
namespace fs = std::filesystem;

namespace {

Expected<std::vector<LabeledPrompt>> load_jsonl(const std::string &path) {
  auto text = read_file(path, "labelled data file");
  if (!text) return text.status();
  std::istringstream in(*text);
  std::vector<LabeledPrompt> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    if (json_nesting_depth(line, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth)
      return invalid_argument(path + ":" + std::to_string(n) + ": nests deeper than " +
                              std::to_string(kDefaultMaxJsonDepth) + " levels; not a labelled prompt");
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception &e) {
      return invalid_argument(path + ":" + std::to_string(n) + ": not valid JSON (" + e.what() + ")");
    }
    LabeledPrompt p;
    p.source = path;
    if (j.contains("text") && j.contains("label") && j["text"].is_string() && j["label"].is_string()) {
      p.text = j["text"];
      p.label = j["label"];
    } else if (j.contains("question") && j.contains("answer") && j["question"].is_string()) {
      p.text = j["question"]; // GSM8K
      p.label = "math";
    } else {
      return invalid_argument(path + ":" + std::to_string(n) +
                              ": expected {\"text\": ..., \"label\": ...} (or a GSM8K {\"question\", \"answer\"} line)");
    }
    p.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>()
                                                   : fs::path(path).stem().string() + ":" + std::to_string(n);
    out.push_back(std::move(p));
  }
  return out;
}

// MMLU (no header) or C-Eval (header) rows as the multiple-choice prompts the evaluation sends.
Expected<std::vector<LabeledPrompt>> load_mc_csv(const std::string &path) {
  auto rows = read_csv_file(path);
  if (!rows) return rows.status();
  const bool ceval = !rows->empty() && !(*rows)[0].empty() && (*rows)[0][0] == "id";
  auto items = load_task(ceval ? Task::ceval : Task::mmlu, path);
  if (!items) return items.status();
  std::vector<LabeledPrompt> out;
  for (auto &it : *items) out.push_back({std::move(it.id), std::move(it.prompt), "qa", path});
  return out;
}

} // namespace

Expected<std::vector<LabeledPrompt>> load_labeled(const std::string &path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto &e : fs::directory_iterator(path))
      if (e.path().extension() == ".csv" || e.path().extension() == ".jsonl") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) return not_found(path + " holds no .csv or .jsonl files");
    std::vector<LabeledPrompt> all;
    for (const auto &f : files) {
      auto part = load_labeled(f);
      if (!part) return part.status();
      all.insert(all.end(), part->begin(), part->end());
    }
    return all;
  }
  if (!fs::exists(path, ec)) return not_found("no such file or folder: " + path);
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".jsonl" || ext == ".json") return load_jsonl(path);
  if (ext == ".csv") return load_mc_csv(path);
  return invalid_argument(path + ": unknown format; give a .jsonl (text/label or GSM8K) or .csv (MMLU, C-Eval) file");
}

} // namespace aio::eval
