#include <gtest/gtest.h>

#include "engine/generation.h"
#include "engine/model.h"
#include "engine/session.h"
#include "synth/gguf_writer.h"

namespace aio {
namespace {

TEST(Params, DefaultsAreValid) {
  EXPECT_TRUE(GenerateParams{}.validate().ok());
  EXPECT_TRUE(engine::SessionParams{}.validate().ok());
  EXPECT_TRUE(SamplingParams{}.validate().ok());
}

TEST(Params, BadValuesNameTheField) {
  GenerateParams g;
  g.max_tokens = 0;
  EXPECT_NE(g.validate().message().find("max_tokens"), std::string::npos);
  SamplingParams s;
  s.top_p = 1.5f;
  EXPECT_NE(s.validate().message().find("top_p"), std::string::npos);
  s = {};
  s.temperature = -0.1f;
  EXPECT_NE(s.validate().message().find("temperature"), std::string::npos);
  engine::SessionParams p;
  p.n_batch = 0;
  EXPECT_NE(p.validate().message().find("n_batch"), std::string::npos);
  engine::ModelParams m;
  EXPECT_NE(m.validate().message().find("path"), std::string::npos);
}

TEST(Params, WeightTypesParse) {
  EXPECT_EQ(*synth::parse_weight_type("q8_0"), synth::WeightType::q8_0);
  EXPECT_EQ(*synth::parse_weight_type("F16"), synth::WeightType::f16);
  EXPECT_EQ(*synth::parse_weight_type("q4_0"), synth::WeightType::q4_0);
  auto bad = synth::parse_weight_type("q5_k");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("f16, q8_0 or q4_0"), std::string::npos);
}

} // namespace
} // namespace aio
