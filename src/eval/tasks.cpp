#include "eval/tasks.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eval/csv.h"
#include "util/files.h"
#include "util/json_limits.h"

namespace aio::eval {
namespace fs = std::filesystem;
using nlohmann::json;

const char *task_name(Task t) {
  switch (t) {
  case Task::humaneval: return "humaneval";
  case Task::gsm8k: return "gsm8k";
  case Task::mmlu: return "mmlu";
  case Task::ceval: return "ceval";
  case Task::gpqa: return "gpqa";
  }
  return "?";
}

Expected<Task> parse_task(const std::string &name) {
  for (Task t : {Task::humaneval, Task::gsm8k, Task::mmlu, Task::ceval, Task::gpqa})
    if (name == task_name(t)) return t;
  return invalid_argument("unknown task '" + name + "'; expected humaneval, gsm8k, mmlu, ceval or gpqa");
}

const char *task_category(Task t) {
  switch (t) {
  case Task::humaneval: return "code";
  case Task::gsm8k: return "math";
  default: return "qa";
  }
}

std::string format_multiple_choice(const std::string &question, const std::vector<std::string> &options) {
  std::string out = question;
  for (size_t i = 0; i < options.size(); ++i) out += "\n" + std::string(1, static_cast<char>('A' + i)) + ". " + options[i];
  return out + "\nAnswer:";
}

Expected<std::string> read_dataset_text(const std::string &path) {
  AIO_RETURN_IF_ERROR(check_readable_file(path, "dataset file"));
  if (fs::path(path).extension() == ".gz") {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return not_found("cannot open " + path);
    std::string out;
    char buf[65536];
    int n = 0;
    const size_t cap = max_file_bytes(kMaxDataFileBytes);
    while ((n = gzread(f, buf, sizeof(buf))) > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > cap) { // a gzip bomb decompresses far past its file size
        gzclose(f);
        return invalid_argument("dataset file " + path + " decompresses to more than " + format_bytes(cap) +
                                "; larger datasets are refused (aio --max-file-size BYTES raises the limit)");
      }
    }
    int err = 0;
    const char *msg = gzerror(f, &err);
    const bool bad = n < 0 || (err != Z_OK && err != Z_STREAM_END);
    const std::string why = bad ? msg : "";
    gzclose(f);
    if (bad) return invalid_file(path + ": not a valid gzip file (" + why + ")");
    return out;
  }
  return read_file(path, "dataset file");
}

namespace {

// JSONL lines as objects; blank lines skipped. Errors name the line.
Expected<std::vector<std::pair<int, json>>> read_jsonl(const std::string &path) {
  auto text = read_dataset_text(path);
  if (!text) return text.status();
  std::vector<std::pair<int, json>> out;
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (json_nesting_depth(line, kDefaultMaxJsonDepth) > kDefaultMaxJsonDepth)
      return invalid_argument(path + ":" + std::to_string(n) + ": nests deeper than " +
                              std::to_string(kDefaultMaxJsonDepth) + " levels; not a dataset item");
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return invalid_argument(path + ":" + std::to_string(n) + ": not a JSON object");
    out.emplace_back(n, std::move(j));
  }
  if (out.empty()) return invalid_argument(path + " holds no items");
  return out;
}

Expected<std::string> string_field(const json &j, const char *key, const std::string &where) {
  if (!j.contains(key) || !j[key].is_string())
    return invalid_argument(where + ": missing the string field '" + key + "'");
  return j[key].get<std::string>();
}

Expected<std::vector<TaskItem>> load_humaneval(const std::string &path) {
  auto lines = read_jsonl(path);
  if (!lines) return lines.status();
  std::vector<TaskItem> out;
  for (const auto &[n, j] : *lines) {
    const std::string where = path + ":" + std::to_string(n);
    TaskItem it;
    it.task = Task::humaneval;
    for (auto [field, key] : {std::pair{&it.id, "task_id"}, {&it.prompt, "prompt"}, {&it.reference, "canonical_solution"},
                              {&it.test, "test"}, {&it.entry_point, "entry_point"}}) {
      auto v = string_field(j, key, where);
      if (!v) return v.status();
      *field = *v;
    }
    out.push_back(std::move(it));
  }
  return out;
}

Expected<std::vector<TaskItem>> load_gsm8k(const std::string &path) {
  auto lines = read_jsonl(path);
  if (!lines) return lines.status();
  std::vector<TaskItem> out;
  for (const auto &[n, j] : *lines) {
    const std::string where = path + ":" + std::to_string(n);
    auto q = string_field(j, "question", where);
    if (!q) return q.status();
    auto a = string_field(j, "answer", where);
    if (!a) return a.status();
    const size_t mark = a->rfind("####");
    if (mark == std::string::npos) return invalid_argument(where + ": the answer does not end in '#### <number>'");
    std::string number = a->substr(mark + 4);
    number.erase(std::remove_if(number.begin(), number.end(), [](char c) { return c == ' ' || c == ',' || c == '\r'; }),
                 number.end());
    TaskItem it;
    it.task = Task::gsm8k;
    it.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>()
                                                    : fs::path(path).stem().string() + ":" + std::to_string(n);
    it.prompt = *q;
    it.reference = number;
    out.push_back(std::move(it));
  }
  return out;
}

bool is_answer_letter(const std::string &s) { return s.size() == 1 && s[0] >= 'A' && s[0] <= 'D'; }

// One MMLU (no header) or C-Eval (header id,question,...) CSV file.
Expected<std::vector<TaskItem>> load_mc_file(Task task, const std::string &path) {
  auto rows = read_csv_file(path);
  if (!rows) return rows.status();
  const bool has_header = !rows->empty() && !(*rows)[0].empty() && (*rows)[0][0] == "id";
  if (task == Task::ceval && !has_header)
    return invalid_argument(path + ": a C-Eval file starts with the header id,question,A,B,C,D,answer");
  const size_t first = has_header ? 1 : 0, q = has_header ? 1 : 0;
  std::vector<TaskItem> out;
  for (size_t r = first; r < rows->size(); ++r) {
    const CsvRow &row = (*rows)[r];
    const std::string where = path + ": row " + std::to_string(r + 1);
    if (row.size() < q + 6)
      return invalid_argument(where + " has " + std::to_string(row.size()) + " fields; expected question,A,B,C,D,answer" +
                              (has_header ? " after the id" : ""));
    if (!is_answer_letter(row[q + 5])) return invalid_argument(where + ": the answer '" + row[q + 5] + "' is not A-D");
    TaskItem it;
    it.task = task;
    it.id = fs::path(path).stem().string() + ":" + (has_header ? row[0] : std::to_string(r));
    it.prompt = format_multiple_choice(row[q], {row[q + 1], row[q + 2], row[q + 3], row[q + 4]});
    it.reference = row[q + 5];
    out.push_back(std::move(it));
  }
  return out;
}

Expected<std::vector<TaskItem>> load_gpqa(const std::string &path) {
  auto rows = read_csv_file(path);
  if (!rows) return rows.status();
  if (rows->empty()) return invalid_argument(path + " is empty");
  const CsvRow &header = (*rows)[0];
  auto column = [&](const std::string &name) -> std::optional<size_t> {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    return std::nullopt;
  };
  const std::vector<std::string> needed = {"Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
                                           "Incorrect Answer 3"};
  std::vector<size_t> at;
  for (const auto &name : needed) {
    auto c = column(name);
    if (!c) return invalid_argument(path + ": no '" + name + "' column (is this GPQA's official CSV?)");
    at.push_back(*c);
  }
  const auto id_col = column("Record ID");
  std::vector<TaskItem> out;
  for (size_t r = 1; r < rows->size(); ++r) {
    const CsvRow &row = (*rows)[r];
    if (row.size() < header.size()) return invalid_argument(path + ": row " + std::to_string(r + 1) + " is short");
    // Options in a fixed per-row order (seeded by the row), so the correct letter is spread over A-D reproducibly.
    std::vector<size_t> order = {0, 1, 2, 3};
    std::mt19937 rng(static_cast<unsigned>(r));
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::string> options;
    TaskItem it;
    for (size_t k = 0; k < 4; ++k) {
      options.push_back(row[at[1 + order[k]]]);
      if (order[k] == 0) it.reference = std::string(1, static_cast<char>('A' + k));
    }
    it.task = Task::gpqa;
    it.id = id_col ? row[*id_col] : fs::path(path).stem().string() + ":" + std::to_string(r);
    it.prompt = format_multiple_choice(row[at[0]], options);
    out.push_back(std::move(it));
  }
  return out;
}

} // namespace

namespace {
Expected<std::vector<TaskItem>> load_task_items(Task task, const std::string &path);
} // namespace

Expected<std::vector<TaskItem>> load_task(Task task, const std::string &path) {
  auto items = load_task_items(task, path);
  // An empty dataset is a mistake (the wrong file, a failed download), not a score of 0 of 0.
  if (items && items->empty())
    return invalid_argument(path + " holds no " + std::string(task_name(task)) + " items; is it the right file?");
  return items;
}

namespace {
Expected<std::vector<TaskItem>> load_task_items(Task task, const std::string &path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return not_found("no such file or folder: " + path);
  if ((task == Task::mmlu || task == Task::ceval) && fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto &e : fs::directory_iterator(path))
      if (e.path().extension() == ".csv") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty()) return not_found(path + " holds no .csv files");
    std::vector<TaskItem> all;
    for (const auto &f : files) {
      auto part = load_mc_file(task, f);
      if (!part) return part.status();
      all.insert(all.end(), part->begin(), part->end());
    }
    return all;
  }
  if (fs::is_directory(path, ec)) return invalid_argument(path + " is a folder; give the " + task_name(task) + " file");
  switch (task) {
  case Task::humaneval: return load_humaneval(path);
  case Task::gsm8k: return load_gsm8k(path);
  case Task::mmlu:
  case Task::ceval: return load_mc_file(task, path);
  case Task::gpqa: return load_gpqa(path);
  }
  return internal_error("unreachable");
}
} // namespace

} // namespace aio::eval
