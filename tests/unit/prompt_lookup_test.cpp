#include <gtest/gtest.h>

#include "decode/prompt_lookup.h"

namespace aio::decode {
namespace {

using Tokens = std::vector<llama_token>;

TEST(PromptLookup, ProposesWhatFollowedTheLongestRecurringSuffix) {
  // ... 1 2 3 [4 5] ... 9 1 2 3 -> the suffix "1 2 3" occurred before, followed by 4 5.
  const Tokens h = {7, 1, 2, 3, 4, 5, 6, 9, 1, 2, 3};
  EXPECT_EQ(propose_prompt_lookup(h, 6, 2), (Tokens{4, 5}));
  EXPECT_EQ(propose_prompt_lookup(h, 6, 4), (Tokens{4, 5, 6, 9}));
  EXPECT_EQ(propose_prompt_lookup(h, 6, 1), (Tokens{4}));
}

TEST(PromptLookup, PrefersTheMostRecentOccurrence) {
  // "5" occurs twice before the end: after the later one came 8, after the earlier one 6.
  const Tokens h = {5, 6, 0, 5, 8, 0, 5};
  EXPECT_EQ(propose_prompt_lookup(h, 1, 1), (Tokens{8}));
  // With a window of 2 the suffix "0 5" also recurs, most recently followed by 8.
  EXPECT_EQ(propose_prompt_lookup(h, 2, 2), (Tokens{8, 0}));
}

TEST(PromptLookup, FallsBackToShorterNgrams) {
  // "3 4" never recurs but "4" does.
  const Tokens h = {4, 9, 1, 3, 4};
  EXPECT_EQ(propose_prompt_lookup(h, 6, 2), (Tokens{9, 1}));
}

TEST(PromptLookup, LongerMatchWinsOverMoreRecentShorterOne) {
  // Suffix "1 2": occurs at 0 (followed by 3); "2" alone occurs more recently at 4 (followed by 8).
  const Tokens h = {1, 2, 3, 0, 2, 8, 1, 2};
  EXPECT_EQ(propose_prompt_lookup(h, 6, 1), (Tokens{3}));
}

TEST(PromptLookup, NothingWhenNoSuffixRecurs) {
  EXPECT_TRUE(propose_prompt_lookup(Tokens{1, 2, 3, 4}, 6, 2).empty());
  EXPECT_TRUE(propose_prompt_lookup(Tokens{}, 6, 2).empty());
  EXPECT_TRUE(propose_prompt_lookup(Tokens{1}, 6, 2).empty());
  EXPECT_TRUE(propose_prompt_lookup(Tokens{1, 1}, 6, 0).empty());
}

TEST(PromptLookup, ProposalMayRunIntoTheSuffixItself) {
  // A repeating token: the occurrence just before the end is followed by the final token.
  EXPECT_EQ(propose_prompt_lookup(Tokens{3, 3, 3}, 6, 2), (Tokens{3}));
  // The most recent occurrence of "3 3" (at 2) has a single token after it: proposals stop at the history's end.
  EXPECT_EQ(propose_prompt_lookup(Tokens{3, 3, 3, 3, 3}, 2, 2), (Tokens{3}));
}

TEST(PromptLookup, WindowLimitsTheNgramLength) {
  // With window 1 only the last token is looked up: its most recent earlier occurrence is followed by 0.
  const Tokens h = {1, 2, 3, 4, 0, 3};
  EXPECT_EQ(propose_prompt_lookup(h, 1, 1), (Tokens{4}));
}

} // namespace
} // namespace aio::decode
