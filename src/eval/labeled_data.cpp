#include "eval/labeled_data.h"

#include <sstream>

#include "util/json_limits.h"
#include "util/utf8.h"

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
  auto text = read_dataset_text(path);
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
    if (!j.is_object())
      return invalid_argument(path + ":" + std::to_string(n) + ": expected a JSON object per line");
    LabeledPrompt p;
    p.source = path;
    if (j.contains("text") && j.contains("label") && j["text"].is_string() && j["label"].is_string()) {
      p.text = j["text"];
      p.label = j["label"];
      for (const char *field : {"source", "lang"})
        if (j.contains(field) && !j[field].is_string())
          return invalid_argument(path + ":" + std::to_string(n) + ": \"" + field + "\" must be a string");
      if (j.contains("source")) p.source = j["source"];
      if (j.contains("lang")) p.lang = j["lang"];
    } else if (j.contains("task_id") && j.contains("prompt") && j["prompt"].is_string()) {
      p.text = j["prompt"]; // HumanEval (and MBPP-style files with a prompt)
      p.label = "code";
    } else if (j.contains("question") && j.contains("answer") && j["question"].is_string()) {
      p.text = j["question"]; // GSM8K
      p.label = "math";
    } else {
      return invalid_argument(path + ":" + std::to_string(n) +
                              ": expected {\"text\": ..., \"label\": ...} (or a GSM8K {\"question\", \"answer\"} or HumanEval "
                              "{\"task_id\", \"prompt\"} line)");
    }
    p.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>()
                                                   : fs::path(path).stem().string() + ":" + std::to_string(n);
    if (p.lang.empty()) p.lang = detect_language(p.text);
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
  for (auto &it : *items) {
    std::string lang = detect_language(it.prompt);
    out.push_back({std::move(it.id), std::move(it.prompt), "qa", path, std::move(lang)});
  }
  return out;
}

} // namespace

std::string detect_language(const std::string &text) {
  size_t cjk = 0, words = 0;
  bool in_word = false;
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = utf8::next(text, i);
    const bool letter = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (letter && !in_word) ++words;
    in_word = letter;
    if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF)) ++cjk;
  }
  return cjk >= 3 && static_cast<double>(cjk) >= 0.3 * static_cast<double>(words) ? "zh" : "en";
}

Expected<std::vector<LabeledPrompt>> load_labeled(const std::string &path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto &e : fs::directory_iterator(path))
      if (e.path().extension() == ".csv" || e.path().extension() == ".jsonl" ||
          e.path().string().ends_with(".jsonl.gz"))
        files.push_back(e.path().string());
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
  fs::path name(path);
  if (name.extension() == ".gz") name = name.stem(); // data.jsonl.gz reads as data.jsonl
  const std::string ext = name.extension().string();
  if (ext == ".jsonl" || ext == ".json") return load_jsonl(path);
  if (ext == ".csv") return load_mc_csv(path);
  return invalid_argument(path +
                          ": unknown format; give a .jsonl[.gz] (text/label or GSM8K) or .csv (MMLU, C-Eval) file");
}

} // namespace aio::eval
