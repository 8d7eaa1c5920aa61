// Text features, CSV, labeled-data loaders and the fastText probe: what the probe learns from and how it is measured.
#include <gtest/gtest.h>

#include <set>

#include <filesystem>
#include <fstream>
#include <random>

#include "eval/csv.h"
#include "eval/labeled_data.h"
#include "probe/fasttext_probe.h"
#include "probe/text_features.h"
#include "support/paths.h"

namespace aio {
namespace {

std::string write_file(const std::string &name, const std::string &text) {
  const std::string path = test::make_temp_dir("data") + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(TextFeatures, SplitsChineseAndPunctuationNormalisesDigits) {
  EXPECT_EQ(probe::text_features("Hello, World 2024!"), "hello , world 0 !");
  EXPECT_EQ(probe::text_features("用Python写"), "用 python 写");
  EXPECT_EQ(probe::text_features("x2 = 3.14"), "x 0 = 0 . 0");
}

TEST(TextFeatures, MarksLinesIndentationAndBlanks) {
  EXPECT_EQ(probe::text_features("def f():\n    return 1"), "def f ( ) : <nl> <indent> return 0");
  EXPECT_EQ(probe::text_features("The answer is ____."), "the answer is <blank> .");
  EXPECT_EQ(probe::text_features("snake_case"), "snake_case");
}

TEST(TextFeatures, MultipleChoiceLayoutIsMarkedWhateverTheSubject) {
  const std::string mc = "Solve 2x = 4.\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:";
  EXPECT_EQ(probe::text_features(mc).rfind("<choices> <choices> <choices> <choices>", 0), 0u);
  EXPECT_EQ(probe::text_features("以下是选择题\nA．甲\nB．乙\nC．丙\nD．丁").rfind("<choices>", 0), 0u);
  EXPECT_EQ(probe::text_features("Solve 2x = 4. A bit of help please.").find("<choices>"), std::string::npos);
  // Longer questions get proportionally more markers, so the layout keeps its weight.
  std::string long_mc = "Q:";
  for (int i = 0; i < 60; ++i) long_mc += " word";
  long_mc += "\nA. x\nB. y\nC. z\nD. w";
  const std::string f = probe::text_features(long_mc);
  size_t n = 0;
  for (size_t p = f.find("<choices>"); p != std::string::npos; p = f.find("<choices>", p + 1)) ++n;
  EXPECT_GT(n, 20u);
}

TEST(Csv, QuotedFieldsKeepCommasQuotesAndNewlines) {
  auto rows = eval::parse_csv("a,\"b, c\",\"say \"\"hi\"\"\"\n\"multi\nline\",x,\r\n\nlast,row,end", "t.csv");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (eval::CsvRow{"a", "b, c", "say \"hi\""}));
  EXPECT_EQ((*rows)[1], (eval::CsvRow{"multi\nline", "x", ""}));
  EXPECT_EQ((*rows)[2], (eval::CsvRow{"last", "row", "end"}));
}

TEST(Csv, UnclosedQuoteNamesTheLine) {
  auto rows = eval::parse_csv("ok,row\nbad,\"never closed\n", "t.csv");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("t.csv:2"), std::string::npos) << rows.status().message();
}

TEST(LabeledData, ReadsEveryFormat) {
  auto jsonl = eval::load_labeled(write_file("cal.jsonl", "{\"text\": \"def f(): pass\", \"label\": \"code\"}\n\n"
                                                          "{\"id\": \"x1\", \"text\": \"2+2?\", \"label\": \"math\"}\n"));
  ASSERT_TRUE(jsonl.ok()) << jsonl.status().to_string();
  ASSERT_EQ(jsonl->size(), 2u);
  EXPECT_EQ((*jsonl)[1].id, "x1");
  auto gsm = eval::load_labeled(write_file("gsm.jsonl", "{\"question\": \"Tom has 3 apples...\", \"answer\": \"... #### 5\"}\n"));
  ASSERT_TRUE(gsm.ok());
  EXPECT_EQ((*gsm)[0].label, "math");
  auto mmlu = eval::load_labeled(write_file("astronomy_dev.csv", "\"What is a star?\",gas,rock,ice,metal,A\n"));
  ASSERT_TRUE(mmlu.ok()) << mmlu.status().to_string();
  EXPECT_EQ((*mmlu)[0].label, "qa");
  EXPECT_EQ((*mmlu)[0].text, "What is a star?\nA. gas\nB. rock\nC. ice\nD. metal\nAnswer:");
  auto ceval = eval::load_labeled(
      write_file("law_val.csv", "id,question,A,B,C,D,answer,explanation\n0,问题____,甲,乙,丙,丁,B,解释\n"));
  ASSERT_TRUE(ceval.ok()) << ceval.status().to_string();
  EXPECT_EQ((*ceval)[0].id, "law_val:0");
  EXPECT_EQ((*ceval)[0].text, "问题____\nA. 甲\nB. 乙\nC. 丙\nD. 丁\nAnswer:");
}

TEST(LabeledData, ErrorsNameFileAndLine) {
  auto bad_json = eval::load_labeled(write_file("x.jsonl", "{\"text\": \"a\", \"label\": \"qa\"}\n{oops\n"));
  ASSERT_FALSE(bad_json.ok());
  EXPECT_NE(bad_json.status().message().find("x.jsonl:2"), std::string::npos);
  auto wrong_keys = eval::load_labeled(write_file("y.jsonl", "{\"prompt\": \"a\"}\n"));
  ASSERT_FALSE(wrong_keys.ok());
  EXPECT_NE(wrong_keys.status().message().find("y.jsonl:1"), std::string::npos);
  auto short_row = eval::load_labeled(write_file("z.csv", "q,a,b\n"));
  EXPECT_FALSE(short_row.ok());
  EXPECT_EQ(eval::load_labeled("/nonexistent.jsonl").status().code(), StatusCode::not_found);
  EXPECT_FALSE(eval::load_labeled(write_file("w.txt", "hello")).ok());
}

std::vector<eval::LabeledPrompt> calibration_set() {
  auto data = eval::load_labeled(std::string(AIO_SOURCE_DIR) + "/data/calibration.jsonl");
  EXPECT_TRUE(data.ok()) << data.status().to_string();
  return data.ok() ? *data : std::vector<eval::LabeledPrompt>{};
}

TEST(CalibrationSet, IsLargeEnoughAndCoversEveryCategoryInBothLanguages) {
  const auto data = calibration_set();
  EXPECT_GE(data.size(), 600u);
  std::map<std::string, int> by_label, chinese_by_label;
  for (const auto &p : data) {
    ++by_label[p.label];
    if (p.text.find("\xE7\x9A\x84") != std::string::npos || p.text.find("\xE6\x98\xAF") != std::string::npos ||
        p.text.find("\xE7\x94\xA8") != std::string::npos || p.text.find("\xE4\xB8\x80") != std::string::npos)
      ++chinese_by_label[p.label]; // 的 是 用 一: common Chinese characters
  }
  for (const char *label : {"code", "qa", "math"}) {
    EXPECT_GE(by_label[label], 150) << label;
    EXPECT_GE(chinese_by_label[label], 15) << label;
  }
}

TEST(FastTextProbe, TrainingIsDeterministic) {
  const auto data = calibration_set();
  const std::string dir = test::make_temp_dir("ft");
  probe::FastTextTrainParams params;
  params.epoch = 5;
  params.bucket = 20000;
  ASSERT_TRUE(probe::train_fasttext_probe(probe::training_examples(data), {"code", "qa", "math"}, dir + "/a.bin", params).ok());
  ASSERT_TRUE(probe::train_fasttext_probe(probe::training_examples(data), {"code", "qa", "math"}, dir + "/b.bin", params).ok());
  std::ifstream a(dir + "/a.bin", std::ios::binary), b(dir + "/b.bin", std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b)));
}

TEST(FastTextProbe, ScoresAtLeast95PercentOnAHeldOutSplitOfTheCalibrationSet) {
  auto data = calibration_set();
  std::mt19937 rng(7);
  std::shuffle(data.begin(), data.end(), rng);
  const size_t n_test = data.size() / 5;
  const std::vector<eval::LabeledPrompt> test_split(data.begin(), data.begin() + static_cast<long>(n_test));
  const std::vector<eval::LabeledPrompt> train_split(data.begin() + static_cast<long>(n_test), data.end());
  const std::string path = test::make_temp_dir("ft") + "/split.bin";
  ASSERT_TRUE(probe::train_fasttext_probe(probe::training_examples(train_split), {"code", "qa", "math"}, path).ok());
  auto probe = probe::FastTextProbe::load(path, {"code", "qa", "math"});
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();
  int correct = 0;
  for (const auto &p : test_split) {
    const ProbeResult r = (*probe)->classify(p.text);
    EXPECT_NEAR(r.distribution[0] + r.distribution[1] + r.distribution[2], 1.0, 1e-6);
    correct += r.category() == p.label;
  }
  EXPECT_GE(static_cast<double>(correct) / static_cast<double>(test_split.size()), 0.95)
      << correct << " of " << test_split.size();
}

TEST(FastTextProbe, TheShippedProbeReaches99PercentOnRealBenchmarksItNeverSaw) {
  const auto shared = test::shared_data_dir();
  if (!shared) GTEST_SKIP() << "../shared/data is absent";
  auto probe = probe::FastTextProbe::load(AIO_DEFAULT_PROBE_PATH, {"code", "qa", "math"});
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();
  int correct = 0, total = 0;
  for (const char *part : {"/gsm8k/train.jsonl", "/mmlu/dev", "/mmlu/val", "/ceval/dev", "/ceval/val"}) {
    auto data = eval::load_labeled(*shared + part);
    ASSERT_TRUE(data.ok()) << data.status().to_string();
    for (const auto &p : *data) {
      correct += (*probe)->classify(p.text).category() == p.label;
      ++total;
    }
  }
  EXPECT_GT(total, 10000);
  EXPECT_GE(static_cast<double>(correct) / total, 0.99) << correct << " of " << total;
}

// A Python signature with a docstring is code whatever the docstring talks about: held-out prompts (written for A-IO,
// never trained on) whose docstrings are about sequences, primes, dates, sorted lists, scores and money.
TEST(FastTextProbe, TheShippedProbeKnowsCodeWhateverItsDocstringCounts) {
  auto heldout = eval::load_labeled(std::string(AIO_SOURCE_DIR) + "/data/heldout/code_numeric_docstrings.jsonl");
  ASSERT_TRUE(heldout.ok()) << heldout.status().to_string();
  ASSERT_GE(heldout->size(), 100u);
  std::set<std::string> trained;
  for (const auto &p : calibration_set()) trained.insert(p.text);
  auto probe = probe::FastTextProbe::load(AIO_DEFAULT_PROBE_PATH, {"code", "qa", "math"});
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();
  int code = 0;
  std::string misses;
  for (const auto &p : *heldout) {
    EXPECT_EQ(trained.count(p.text), 0u) << "held-out prompt found in the calibration set: " << p.text;
    if ((*probe)->classify(p.text).category() == "code") ++code;
    else misses += p.text.substr(0, p.text.find('\n')) + "\n";
  }
  EXPECT_GE(static_cast<double>(code) / static_cast<double>(heldout->size()), 0.99)
      << code << " of " << heldout->size() << "; missed:\n" << misses;
}

TEST(FastTextProbe, WrongCategoriesOrFilesAreRefused) {
  EXPECT_EQ(probe::FastTextProbe::load("/nonexistent.bin", {"code", "qa", "math"}).status().code(),
            StatusCode::not_found);
  EXPECT_FALSE(probe::FastTextProbe::load(AIO_DEFAULT_PROBE_PATH, {"code", "chat"}).ok());
  EXPECT_FALSE(probe::FastTextProbe::load(write_file("junk.bin", "not a model"), {"code", "qa", "math"}).ok());
  std::vector<eval::LabeledPrompt> bad = {{"1", "hello", "chitchat", "mem"}};
  EXPECT_FALSE(probe::train_fasttext_probe(probe::training_examples(bad), {"code", "qa", "math"}, test::make_temp_dir("ft") + "/x.bin").ok());
}

} // namespace
} // namespace aio
