// The public Request: what the fastText probe classifies (the request being made now, not the whole history) and
// when there is nothing to answer.
#include <gtest/gtest.h>

#include "aio/request.h"

namespace aio {
namespace {

TEST(Request, TheProbeReadsTheLastUserTurnOfAChat) {
  Request r;
  r.messages = {{"system", "You are a helpful assistant who writes Python."},
                {"user", "Write a function that sorts a list."},
                {"assistant", "def sort(xs): return sorted(xs)"},
                {"user", "What is the capital of France?"}};
  EXPECT_TRUE(r.chat());
  EXPECT_EQ(r.probe_text(), "What is the capital of France?");
  r.messages.push_back({"assistant", "Paris."});
  EXPECT_EQ(r.probe_text(), "What is the capital of France?") << "a trailing assistant turn is not the request";
}

TEST(Request, APlainPromptIsReadWhole) {
  Request r;
  r.prompt = "def add(a, b):";
  EXPECT_FALSE(r.chat());
  EXPECT_EQ(r.probe_text(), "def add(a, b):");
  EXPECT_FALSE(r.empty());
}

TEST(Request, NothingToAnswerIsEmpty) {
  EXPECT_TRUE(Request{}.empty());
  Request r;
  r.messages = {{"user", ""}};
  EXPECT_TRUE(r.empty());
  r.messages = {{"system", "Be brief."}};
  EXPECT_FALSE(r.empty());
  EXPECT_EQ(r.probe_text(), "Be brief.") << "without a user turn, the last message";
}

} // namespace
} // namespace aio
