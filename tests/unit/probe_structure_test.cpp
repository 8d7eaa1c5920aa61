// What the probe reads from a request's layout (probe/structure.h): each signal on the shapes users send, and the
// look-alikes that must not fire (a formula is not a signature, a shell variable is not a formula).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "probe/structure.h"

namespace aio {
namespace {

using probe::detect_structure;
using probe::StructureSignals;

// Each text must (expected = true) or must not raise `signal`.
void expect_signal(bool StructureSignals::*signal, std::initializer_list<const char *> texts, bool expected) {
  for (const char *text : texts) EXPECT_EQ(detect_structure(text).*signal, expected) << text;
}

TEST(Structure, SignaturesInTheCommonLanguages) {
  expect_signal(&StructureSignals::signature, {
           "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
           "from typing import List\n\n\ndef below_zero(operations: List[int]) -> bool:\n",
           "    async def fetch(url):\n        pass",
           "class Solution:\n    def twoSum(self, nums, target):",
           "class Solution {\npublic:\n    int maxProfit(vector<int>& prices) {\n    }\n};",
           "function add(a, b) {\n  return a + b;\n}",
           "fn main() {\n    println!(\"hi\");\n}",
           "func Sum(xs []int) int {",
           "#include <stdio.h>\nint main() { return 0; }",
           "public static void main(String[] args) {",
                }, true);
  expect_signal(&StructureSignals::signature, {
           "Let f(x) = x^2 + 1. Find f(3).",
           "Define a function f such that f(2) = 4.",
           "The class of 30 students went to the museum.",
           "$f(x)=\\left\\{\\begin{array}{l}x^{2}-4, x>2 \\\\ |x-3|+a\\end{array}\\right.$ {",
           "已知函数 f(x) = 2x + 1，求 f(3)。",
                }, false);
}

TEST(Structure, CodeBlocksDoctestsTracesAndCommands) {
  EXPECT_TRUE(detect_structure("Why does this fail?\n```python\nprint(x)\n```").code_block);
  EXPECT_TRUE(detect_structure("int x = 1;\nx++;\nreturn x;").code_block);
  EXPECT_FALSE(detect_structure("I like apples; they are sweet.\nOranges too.").code_block);
  EXPECT_FALSE(detect_structure("$\\frac{1}{2}$ and\n$\\sqrt{2}$ \\text{so}}\n\\end{array}").code_block);
  EXPECT_TRUE(detect_structure("    >>> add(2, 3)\n    5").doctest);
  EXPECT_TRUE(detect_structure("Traceback (most recent call last):\n  File \"a.py\", line 3, in <module>").stack_trace);
  EXPECT_TRUE(detect_structure("at com.example.App.run(App.java:42)").stack_trace);
  EXPECT_TRUE(detect_structure("main.cpp:7:3: error: expected ';'").stack_trace);
  EXPECT_FALSE(detect_structure("The file a.py is on line 3 of the list.").stack_trace);
  EXPECT_TRUE(detect_structure("$ ls -la /tmp").shell);
  EXPECT_TRUE(detect_structure("find . -name '*.txt' | xargs grep foo").shell);
  EXPECT_TRUE(detect_structure("Explain this command:\ntar -xzf a.tar.gz").shell);
  EXPECT_FALSE(detect_structure("find the value of x - 3 when x = 5").shell);
  EXPECT_FALSE(detect_structure("Cat - a small animal").shell);
}

TEST(Structure, AsksForCode) {
  expect_signal(&StructureSignals::code_request, {
           "Write a python function to find the sum of the squares of the first n odd natural numbers.",
           "Please implement an algorithm that merges two sorted arrays.",
           "Can you give me a bash script that renames files?",
           "Create a class for a bank account with deposit and withdraw methods.",
           "写一个函数，计算数组中所有偶数的和。",
           "请用 Java 编写程序，输出 1 到 100 的质数。",
                }, true);
  expect_signal(&StructureSignals::code_request, {
           "Write the equation of the line through (1, 2) with slope 3.",
           "Show that the function f is continuous.",
           "The committee will design a new logo. Their function is clear.",
           "实现月球背面软着陆需要解决的一个关键技术问题是通讯。",
           "用户编写的C程序中的自动变量位于进程映像的哪一部分？",
           "A company makes 300 programs a year. How many in 4 years?",
                }, false);
}

TEST(Structure, FormulasAreNotMoneyOrShellVariables) {
  EXPECT_TRUE(detect_structure("Solve 3x + 2 = 11.").formula);
  EXPECT_TRUE(detect_structure("Find $a+b$ if the function is continuous.").formula);
  EXPECT_TRUE(detect_structure("What is x^2 when x = 3?").formula);
  EXPECT_TRUE(detect_structure("Compute \\frac{1}{2} + \\frac{1}{3}.").formula);
  EXPECT_FALSE(detect_structure("A pen costs $3 and a book costs $12. How much for both?").formula);
  EXPECT_FALSE(detect_structure("Prints dates of $m month in $y year.").formula);
  EXPECT_FALSE(detect_structure("Copy $SRC to $DEST recursively.").formula);
  EXPECT_FALSE(detect_structure("He finished 3rd in the 10th race in 2D.").formula);
}

TEST(Structure, LetteredChoicesInTheCommonLayouts) {
  EXPECT_TRUE(detect_structure("Q?\nA. one\nB. two\nC. three\nD. four").choices);
  EXPECT_TRUE(detect_structure("Q? (A) one (B) two (C) three (D) four").choices);
  EXPECT_TRUE(detect_structure("问题\nA．甲\nB．乙\nC．丙\nD．丁").choices);
  EXPECT_FALSE(detect_structure("Q? A. one B. two").choices);
  EXPECT_FALSE(detect_structure("A.B.C.D. is a band.").choices);
}

TEST(Structure, MarkersNameWhatWasFound) {
  EXPECT_EQ(detect_structure("plain words only").markers(), "");
  EXPECT_EQ(detect_structure("def f(x):\n    >>> f(1)\n").markers(), "<sig> <doctest>");
}

// Every scan is linear in the text's length (each repeated unit below would make a quadratic scan take minutes on a
// megabyte; the suite's timeout is what catches one), and the signals still come out right.
TEST(Structure, HugeHostileTextsAreReadWhole) {
  for (const std::string unit : {"x;\n", "`", "$", "write ", "写", "A. ", "a.py\", line ", "\\", "class "}) {
    std::string text;
    while (text.size() < (1u << 20)) text += unit;
    const auto s = detect_structure(text);
    if (unit == "x;\n") { EXPECT_TRUE(s.code_block); }
    if (unit == "`") { EXPECT_FALSE(s.inline_code); } // empty spans only
    if (unit == "A. ") { EXPECT_FALSE(s.choices); }
  }
}

} // namespace
} // namespace aio
