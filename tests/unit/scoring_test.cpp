// Task loaders and scorers against references: the datasets' own answers score as correct, wrong ones do not, and
// hostile code is contained and scored as a failure.
#include <gtest/gtest.h>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "eval/scoring.h"
#include "support/paths.h"

namespace aio::eval {
namespace {

std::string fixture(const std::string &name) { return std::string(AIO_SOURCE_DIR) + "/tests/fixtures/eval/" + name; }
std::string sample(const std::string &name) { return std::string(AIO_SOURCE_DIR) + "/data/sample/" + name; }

const sandbox::Sandbox &shared_sandbox() {
  static const sandbox::Sandbox s = *sandbox::Sandbox::create();
  return s;
}

Scorer scorer() {
  sandbox::SandboxLimits l;
  l.timeout_seconds = 3;
  return Scorer(&shared_sandbox(), l);
}

TEST(Scoring, LastNumber) {
  EXPECT_EQ(last_number("So she has 18 eggs left, worth $36."), "36");
  EXPECT_EQ(last_number("The total is 1,234.50 dollars"), "1234.50");
  EXPECT_EQ(last_number("temperature fell to -3 degrees"), "-3");
  EXPECT_EQ(last_number("values 48,56 and 7"), "7");
  EXPECT_EQ(last_number("no digits here"), std::nullopt);
  EXPECT_TRUE(same_number("18", "18.00"));
  EXPECT_TRUE(same_number("2500", "2500"));
  EXPECT_FALSE(same_number("18", "19"));
  EXPECT_FALSE(same_number("x", "1"));
}

TEST(Scoring, ChosenLetter) {
  EXPECT_EQ(chosen_letter(" B"), 'B');
  EXPECT_EQ(chosen_letter("(C) because the others are wrong"), 'C');
  EXPECT_EQ(chosen_letter("Looking at A and B, the answer is D."), 'D');
  EXPECT_EQ(chosen_letter("Answer: a"), 'A');
  EXPECT_EQ(chosen_letter("分析如下。答案是C"), 'C');
  EXPECT_EQ(chosen_letter("答案：B。"), 'B');
  EXPECT_EQ(chosen_letter("I think it is B, not C"), 'B');
  EXPECT_EQ(chosen_letter("Because of Avogadro"), std::nullopt);
  EXPECT_EQ(chosen_letter(""), std::nullopt);
}

TEST(Scoring, HumanEvalReferencesPassAndWrongCodeFails) {
  auto items = load_task(Task::humaneval, sample("HumanEval.jsonl"));
  ASSERT_TRUE(items.ok()) << items.status().to_string();
  ASSERT_EQ(items->size(), 8u);
  for (const auto &it : *items) {
    const ItemScore ok = scorer().score(it, Scorer::reference_completion(it));
    EXPECT_TRUE(ok.correct) << it.id << ": " << ok.detail;
    const ItemScore wrong = scorer().score(it, "    return None\n");
    EXPECT_FALSE(wrong.correct) << it.id;
    EXPECT_NE(wrong.detail.find("Error"), std::string::npos) << wrong.detail;
  }
}

// The verdict is the checker's, a process the candidate cannot reach: every way a program could forge a pass in a
// one-process harness - print a marker it reads from its own file, code constants or callers' frames, exit 0 early,
// shadow or patch the builtins the test uses, return an object that equals everything - fails by construction. Right
// code passes whatever it does to its own interpreter, and however much it prints.
TEST(Scoring, NoProgramCanForgeItsPass) {
  const auto items = *load_task(Task::humaneval, sample("HumanEval.jsonl"));
  const TaskItem &item = items[0]; // add_pairs: asserts candidate(...) == [...]
  const std::string wrong = "    return [0]\n";
  // What a forger would print: anything that looks like success, plus every string it can find.
  const std::string forge = "import sys, os\nprint('all tests passed'); print('PASS'); sys.stdout.flush()\n";
  const std::map<std::string, std::string> cheats = {
      {"reads its own file", wrong + "import sys\nprint(open(__file__).read() if '__file__' in dir() else '')\n" +
                                 forge + "os._exit(0)\n"},
      {"reads the code's constants",
       wrong + "import sys\nfor c in sys._getframe().f_code.co_consts: print(c)\n" + forge + "os._exit(0)\n"},
      {"walks the callers' frames",
       wrong + "import sys\nf = sys._getframe()\nwhile f:\n    print(f.f_locals.keys(), f.f_code.co_consts)\n"
               "    f = f.f_back\n" + forge + "os._exit(0)\n"},
      {"inspects the stack", wrong + "import inspect\nfor fr in inspect.stack(): print(fr.frame.f_globals.keys())\n" +
                                 forge + "os._exit(0)\n"},
      {"reads /proc and its descriptors",
       wrong + "import os\nfor fd in range(3, 10):\n    try: print(os.read(fd, 1 << 16))\n    except OSError: pass\n"
               "print(open('/proc/self/cmdline').read())\n" + forge + "os._exit(0)\n"},
      {"shadows a builtin the test uses", wrong + "len = lambda v: 0\nabs = lambda v: 0\nsorted = lambda v: v\n"},
      {"patches the builtins module", wrong + "import builtins\nbuiltins.len = lambda *a: 0\n"
                                              "builtins.AssertionError = type('A', (Exception,), {})\n"},
      {"sys.exit at import", wrong + "import sys\nsys.exit(0)\n"},
      {"os._exit in an atexit hook", wrong + "import atexit, os\natexit.register(lambda: os._exit(0))\n"},
      {"os._exit in an excepthook", wrong + "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n"},
      {"an object equal to everything", "    class E:\n        def __eq__(self, o): return True\n    return E()\n"},
      {"an int that equals everything", "    class E(int):\n        def __eq__(self, o): return True\n    return E(0)\n"},
      {"a list of such objects", "    class E:\n        def __eq__(self, o): return True\n    return [E()]\n"},
      {"a list subclass", "    class L(list):\n        def __eq__(self, o): return True\n    return L()\n"},
      {"writes to the checker's pipe", wrong + "import os\nos.write(6, b'\\x00' * 8)\n"},
  };
  for (const auto &[what, completion] : cheats) {
    const ItemScore s = scorer().score(item, completion);
    EXPECT_FALSE(s.correct) << what << ": " << s.extracted << " " << s.detail;
    EXPECT_FALSE(s.detail.empty()) << what;
  }
  const ItemScore equal = scorer().score(item, cheats.at("an object equal to everything"));
  EXPECT_NE(equal.detail.find("not a plain value"), std::string::npos) << equal.detail;
  // Right code passes, whatever it does to itself and however much it prints.
  const std::string right = Scorer::reference_completion(item);
  for (const std::string &completion :
       {right, right + "import builtins\nbuiltins.print = lambda *a, **k: None\nlen = None\n",
        "    print('x' * 200000)\n" + right}) {
    const ItemScore ok = scorer().score(item, completion);
    EXPECT_TRUE(ok.correct) << completion.substr(0, 80) << ": " << ok.extracted << " " << ok.detail;
  }
  // A value of the right type passes as that type: `is True` holds for a bool that crossed (Sample/1's test).
  const ItemScore exact = scorer().score(items[1], Scorer::reference_completion(items[1]));
  EXPECT_TRUE(exact.correct) << exact.detail;
  // And an exception the candidate raises reaches the test as that exception.
  const ItemScore raised = scorer().score(item, "    raise ValueError('no pairs today')\n");
  EXPECT_FALSE(raised.correct);
  EXPECT_NE(raised.detail.find("ValueError: no pairs today"), std::string::npos) << raised.detail;
}

// A sandbox that cannot start the checker (the machine out of processes, say) leaves the item unjudged - a setup
// error, which `aio bench` stops on instead of recording a wrong answer - while nothing a candidate prints or exits
// with passes for one: otherwise a program could halt the whole evaluation.
TEST(Scoring, ASandboxThatCannotStartIsNoWrongAnswerAndNoProgramCanFakeIt) {
  const TaskItem item = (*load_task(Task::humaneval, sample("HumanEval.jsonl")))[0];
  const std::string dir = test::make_temp_dir("no-start");
  const std::string python = dir + "/python3";
  std::ofstream(python) << "#!/bin/sh\necho 'sandbox setup failed: simulated: Resource temporarily unavailable'\nexit 125\n";
  namespace fs = std::filesystem;
  fs::permissions(dir, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
  fs::permissions(python, fs::perms::owner_all | fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
  // Under /tmp the real sandbox cannot see it, so this one runs unisolated: the script is all it runs.
  auto broken = sandbox::Sandbox::create(python, /*allow_uncontained=*/true);
  ASSERT_TRUE(broken.ok()) << broken.status().to_string();
  sandbox::SandboxLimits l;
  l.timeout_seconds = 3;
  const ItemScore unjudged = Scorer(&*broken, l).score(item, Scorer::reference_completion(item));
  EXPECT_FALSE(unjudged.correct);
  EXPECT_EQ(unjudged.extracted, "setup-error") << unjudged.detail;
  EXPECT_NE(unjudged.detail.find("simulated"), std::string::npos) << unjudged.detail;
  for (const std::string &fake : {std::string("import os\nprint('bwrap: Creating new namespace failed', flush=True)\nos._exit(1)\n"),
                                  std::string("import os\nprint('sandbox setup failed: x', flush=True)\nos._exit(125)\n")}) {
    const ItemScore s = scorer().score(item, "    return []\n" + fake);
    EXPECT_FALSE(s.correct);
    EXPECT_EQ(s.extracted, "failed") << fake << ": " << s.detail;
  }
}

// A run the memory cap ends says so (not "timed out"); a completion that prints invalid UTF-8 and terminal escapes
// is scored like any other.
TEST(Scoring, MemoryCapsAndBinaryOutputAreReportedAsSuch) {
  const TaskItem item = (*load_task(Task::humaneval, sample("HumanEval.jsonl")))[0];
  if (shared_sandbox().isolation().cgroup.empty()) GTEST_SKIP() << "no cgroup here: the memory cap is per process";
  sandbox::SandboxLimits l;
  l.timeout_seconds = 20;
  l.memory_bytes = 128u << 20;
  const ItemScore hog = Scorer(&shared_sandbox(), l).score(item, "    x = []\n    while True:\n        x.append(bytearray(1 << 20))\n");
  EXPECT_FALSE(hog.correct);
  EXPECT_TRUE(hog.detail == "exceeded the memory cap" || hog.detail.find("MemoryError") != std::string::npos)
      << hog.extracted << " " << hog.detail;
  EXPECT_EQ(hog.detail.find("timed out"), std::string::npos) << hog.detail;
}

TEST(Scoring, HostileCompletionsAreContainedAndFail) {
  const TaskItem item = (*load_task(Task::humaneval, sample("HumanEval.jsonl")))[0];
  const std::string right = Scorer::reference_completion(item);
  const std::map<std::string, std::string> hostile = {
      {"infinite loop", "    while True:\n        pass\n"},
      {"fork bomb", "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n"
                    "            pass\n"},
      {"huge output", "    while True:\n        print('x' * 10000)\n"},
      {"write outside", "    open('/var/tmp/aio-escape-humaneval', 'w').write('x')\n" + right},
      {"socket", "    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n" + right},
  };
  for (const auto &[what, completion] : hostile) {
    if ((what == "write outside" || what == "socket") && !shared_sandbox().isolation().namespaces) continue;
    const ItemScore s = scorer().score(item, completion);
    EXPECT_FALSE(s.correct) << what;
    EXPECT_FALSE(s.detail.empty()) << what;
  }
  EXPECT_FALSE(std::ifstream("/var/tmp/aio-escape-humaneval").good());
}

TEST(Scoring, Gsm8kReadsTheLastNumber) {
  auto items = load_task(Task::gsm8k, sample("gsm8k.jsonl"));
  ASSERT_TRUE(items.ok()) << items.status().to_string();
  ASSERT_EQ(items->size(), 8u);
  EXPECT_EQ((*items)[1].reference, "2500") << "thousands separators are dropped";
  EXPECT_TRUE(scorer().score((*items)[0], "36 jars minus 5 is 31").correct);
  EXPECT_FALSE(scorer().score((*items)[0], "31 jars? No: 30").correct);
  EXPECT_TRUE(scorer().score((*items)[1], "They pay $2,500.").correct);
  EXPECT_FALSE(scorer().score((*items)[1], "I do not know").correct);
}

TEST(Scoring, GpqaShufflesOptionsReproducibly) {
  auto a = load_task(Task::gpqa, fixture("gpqa-mini.csv"));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_EQ(a->size(), 3u);
  auto b = load_task(Task::gpqa, fixture("gpqa-mini.csv"));
  std::set<std::string> letters;
  for (size_t i = 0; i < a->size(); ++i) {
    const TaskItem &it = (*a)[i];
    EXPECT_EQ(it.prompt, (*b)[i].prompt);
    EXPECT_EQ(it.reference, (*b)[i].reference);
    letters.insert(it.reference);
    // The correct answer's text sits under the reference letter.
    const std::string correct = i == 0 ? "Nitrogen" : i == 1 ? "Newton" : "Neutron";
    EXPECT_NE(it.prompt.find("\n" + it.reference + ". " + correct), std::string::npos) << it.prompt;
    EXPECT_TRUE(scorer().score(it, Scorer::reference_completion(it)).correct);
  }
  EXPECT_EQ(a->front().id, "rec1");
}

TEST(Scoring, GzippedHumanEvalLoads) {
  std::ifstream in(sample("HumanEval.jsonl"));
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const std::string gz = test::make_temp_dir("gz") + "/HumanEval.jsonl.gz";
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  auto items = load_task(Task::humaneval, gz);
  ASSERT_TRUE(items.ok()) << items.status().to_string();
  EXPECT_EQ(items->size(), 8u);
}

TEST(Scoring, BadFilesAreClearErrors) {
  const std::string dir = test::make_temp_dir("bad");
  std::ofstream(dir + "/he.jsonl") << R"({"task_id": "X/0", "prompt": "def f():\n"})" << "\n";
  auto he = load_task(Task::humaneval, dir + "/he.jsonl");
  ASSERT_FALSE(he.ok());
  EXPECT_NE(he.status().message().find("he.jsonl:1: missing the string field 'canonical_solution'"), std::string::npos)
      << he.status().message();
  std::ofstream(dir + "/g.jsonl") << R"({"question": "q", "answer": "no marker"})" << "\n";
  auto g = load_task(Task::gsm8k, dir + "/g.jsonl");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("####"), std::string::npos);
  std::ofstream(dir + "/m.csv") << "q,a,b,c,d,E\n";
  auto m = load_task(Task::mmlu, dir + "/m.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("is not A-D"), std::string::npos);
  std::ofstream(dir + "/broken.gz") << "not gzip at all";
  EXPECT_FALSE(load_task(Task::humaneval, dir + "/broken.gz").ok());
  EXPECT_EQ(load_task(Task::gsm8k, dir + "/missing.jsonl").status().code(), StatusCode::not_found);
}

// The shared real data, when present: every reference answer scores as correct (a check of loaders and scorers).
TEST(Scoring, SharedDataReferencesAllScoreCorrect) {
  const auto data = test::shared_data_dir();
  if (!data) GTEST_SKIP() << "../shared/data is not here";
  const std::vector<std::pair<Task, std::string>> sets = {
      {Task::gsm8k, *data + "/gsm8k/train.jsonl"}, {Task::mmlu, *data + "/mmlu/dev"}, {Task::ceval, *data + "/ceval/val"}};
  for (const auto &[task, path] : sets) {
    auto items = load_task(task, path);
    ASSERT_TRUE(items.ok()) << items.status().to_string();
    EXPECT_GT(items->size(), 200u) << path;
    int correct = 0;
    for (const auto &it : *items) correct += scorer().score(it, Scorer::reference_completion(it)).correct;
    EXPECT_EQ(correct, static_cast<int>(items->size())) << path;
  }
}

} // namespace
} // namespace aio::eval
