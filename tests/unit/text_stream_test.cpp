#include <gtest/gtest.h>

#include "engine/text_stream.h"

namespace aio::engine {
namespace {

std::string feed(TextStream &s, const std::vector<std::string> &pieces) {
  std::string out;
  for (const auto &p : pieces) out += s.push(p);
  return out + s.finish();
}

TEST(TextStream, PassesTextThroughWithoutStops) {
  TextStream s;
  EXPECT_EQ(s.push("hello "), "hello ");
  EXPECT_EQ(s.push("world"), "world");
  EXPECT_EQ(s.finish(), "");
  EXPECT_EQ(s.emitted(), "hello world");
}

TEST(TextStream, CutsAtStopStringAcrossPieces) {
  TextStream s({"\n\n"});
  std::string out = s.push("def f():");
  out += s.push("\n");     // could be the start of "\n\n": held back
  EXPECT_EQ(out, "def f():");
  out += s.push("\nmore");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "def f():");
  EXPECT_EQ(s.push("ignored"), "");
  EXPECT_EQ(s.emitted(), "def f():");
}

TEST(TextStream, ReleasesHeldPrefixWhenItDoesNotMatch) {
  TextStream s({"STOP"});
  EXPECT_EQ(s.push("abc ST"), "abc ");
  EXPECT_EQ(s.push("ART"), "START");
  EXPECT_FALSE(s.stopped());
}

TEST(TextStream, EarliestOfSeveralStopsWins) {
  TextStream s({"world", "lo"});
  EXPECT_EQ(feed(s, {"hello world"}), "hel");
  EXPECT_TRUE(s.stopped());
}

TEST(TextStream, NeverSplitsUtf8Characters) {
  TextStream s;
  const std::string snow = "\xE2\x98\x83"; // U+2603, 3 bytes
  EXPECT_EQ(s.push(snow.substr(0, 1)), "");
  EXPECT_EQ(s.push(snow.substr(1, 1)), "");
  EXPECT_EQ(s.push(snow.substr(2, 1) + "x"), snow + "x");
}

TEST(TextStream, FinishFlushesHeldBytes) {
  TextStream s({"END"});
  EXPECT_EQ(s.push("the E"), "the ");
  EXPECT_EQ(s.finish(), "E");
  EXPECT_EQ(s.emitted(), "the E");
}

TEST(TextStream, EmptyStopStringsAreIgnored) {
  TextStream s({""});
  EXPECT_EQ(feed(s, {"a", "b"}), "ab");
  EXPECT_FALSE(s.stopped());
}

TEST(Utf8, IncompleteTailLengths) {
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98\x80"), 0u);
}

} // namespace
} // namespace aio::engine
