// Chat templates with tools (chat::ChatTemplates over llama.cpp's common chat code) and reading tool calls back
// (chat::OutputParser), on the tiny synthetic model whose template describes tools.
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/output_parser.h"
#include "core/router.h"
#include "engine/model.h"
#include "support/paths.h"
#include "support/tiny_models.h"
#include "synth/gguf_writer.h"

namespace aio {
namespace {

std::shared_ptr<engine::Model> small_model() {
  static std::shared_ptr<engine::Model> m = [] {
    auto loaded = engine::Model::load({.path = test::tiny_pair().small_path});
    EXPECT_TRUE(loaded) << loaded.status().to_string();
    return *loaded;
  }();
  return m;
}

// The city is an enum: random weights inside a free JSON string never close it (the grammar allows any length).
Tool weather_tool() {
  return {"get_weather", "The weather in a city",
          R"({"type":"object","properties":{"city":{"type":"string","enum":["Paris","London","Tokyo"]}},)"
          R"("required":["city"],"additionalProperties":false})"};
}

TEST(ChatTools, PlainChatRendersAsTheBuiltInFormatting) {
  auto tmpl = chat::ChatTemplates::create(small_model()->raw(), "tiny-small");
  ASSERT_TRUE(tmpl) << tmpl.status().to_string();
  EXPECT_TRUE((*tmpl)->supports_tools());
  Request r;
  r.messages = {{"system", "Be brief."}, {"user", "What is 2+2?"}};
  auto jinja = (*tmpl)->apply(r);
  ASSERT_TRUE(jinja) << jinja.status().to_string();
  auto builtin = small_model()->apply_chat_template(r.messages);
  ASSERT_TRUE(builtin);
  EXPECT_EQ(jinja->text, *builtin);
  EXPECT_TRUE(jinja->grammar.empty());
}

TEST(ChatTools, ToolsAreDescribedAndANamedChoiceGivesAStrictGrammar) {
  auto tmpl = chat::ChatTemplates::create(small_model()->raw(), "tiny-small");
  ASSERT_TRUE(tmpl);
  Request r;
  r.messages = {{"user", "Weather in Paris?"}};
  r.tools = {weather_tool(), {"get_time", "The time", ""}};
  r.tool_choice = {ToolChoice::Mode::function, "get_weather"};
  auto p = (*tmpl)->apply(r);
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_NE(p->text.find("get_weather"), std::string::npos);
  EXPECT_EQ(p->text.find("get_time"), std::string::npos) << "a named choice offers only that tool";
  EXPECT_FALSE(p->grammar.empty());
  EXPECT_FALSE(p->grammar_lazy);
  EXPECT_FALSE(p->grammar_prefill.empty()) << "the strict grammar starts at the answer's header";
  const size_t root = p->grammar.find("root ::=");
  ASSERT_NE(root, std::string::npos);
  const std::string root_rule = p->grammar.substr(root, p->grammar.find('\n', root) - root);
  EXPECT_EQ(root_rule.find("until-"), std::string::npos) << "a required call comes first, no text before it: " << root_rule;
  EXPECT_NE(p->grammar.find("tool-calls ::= (tool-call space)+"), std::string::npos) << "parallel calls allowed";
  r.parallel_tool_calls = false;
  auto single = (*tmpl)->apply(r);
  ASSERT_TRUE(single);
  EXPECT_NE(single->grammar.find("tool-calls ::= tool-call space\n"), std::string::npos) << single->grammar;
  r.parallel_tool_calls = true;

  r.tool_choice = {};
  auto lazy = (*tmpl)->apply(r);
  ASSERT_TRUE(lazy);
  EXPECT_TRUE(lazy->grammar_lazy) << "with tool_choice auto the model may answer in text";
  EXPECT_EQ(lazy->trigger_patterns.size() + lazy->trigger_tokens.size(), 1u);
  EXPECT_NE(lazy->text.find("get_time"), std::string::npos);

  r.tool_choice = {ToolChoice::Mode::none, ""};
  auto none = (*tmpl)->apply(r);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->grammar.empty());
  EXPECT_FALSE(none->output.parse_tool_calls);

  r.tool_choice = {ToolChoice::Mode::function, "no_such_tool"};
  auto unknown = (*tmpl)->apply(r);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.status().message().find("no_such_tool"), std::string::npos);

  chat::OutputParser parser(p->output);
  auto d = parser.update(R"(<tool_call>{"name": "get_weather", "arguments": {"city": "Par)", false);
  ASSERT_TRUE(d) << d.status().to_string();
  auto d2 = parser.update(R"(is"}}</tool_call>)", true);
  ASSERT_TRUE(d2) << d2.status().to_string();
  ASSERT_EQ(parser.parsed().tool_calls.size(), 1u);
  EXPECT_EQ(parser.parsed().tool_calls[0].name, "get_weather");
  EXPECT_EQ(parser.parsed().tool_calls[0].arguments, R"({"city": "Paris"})");
}

TEST(ChatTools, HistoryWithToolCallsAndResultsIsRendered) {
  auto tmpl = chat::ChatTemplates::create(small_model()->raw(), "tiny-small");
  ASSERT_TRUE(tmpl);
  Request r;
  r.tools = {weather_tool()};
  r.messages = {{"user", "Weather in Paris?"},
                {.role = "assistant", .content = "", .tool_calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}}},
                {.role = "tool", .content = "18 C, sunny", .tool_call_id = "call_1"}};
  auto p = (*tmpl)->apply(r);
  ASSERT_TRUE(p) << p.status().to_string();
  EXPECT_NE(p->text.find(R"(<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>)"),
            std::string::npos)
      << p->text;
  EXPECT_NE(p->text.find("18 C, sunny"), std::string::npos);
}

TEST(ChatTools, ATemplateWithoutToolsIsRefusedWithAClearError) {
  // The stock Llama 3.0 template: no tools section.
  synth::SynthParams p;
  p.preset = *synth::find_arch_preset("tiny-small");
  p.vocab = synth::byte_level_vocab();
  p.vocab.chat_template =
      "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
      "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";
  p.out_path = test::make_temp_dir("no-tools") + "/no-tools.gguf";
  ASSERT_TRUE(synth::write_synthetic_gguf(p).ok());
  auto model = engine::Model::load({.path = p.out_path});
  ASSERT_TRUE(model);
  auto tmpl = chat::ChatTemplates::create((*model)->raw(), "no-tools");
  ASSERT_TRUE(tmpl) << tmpl.status().to_string();
  EXPECT_FALSE((*tmpl)->supports_tools());
  Request r;
  r.messages = {{"user", "Weather?"}};
  r.tools = {weather_tool()};
  auto refused = (*tmpl)->apply(r);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument) << "a 400, not a 500";
  EXPECT_NE(refused.status().message().find("cannot do tools"), std::string::npos) << refused.status().message();
}

// The whole path: Router -> tool format -> grammar on the executor -> parsed tool call, on every strategy.
class RoutedToolCall : public ::testing::TestWithParam<const char *> {};

TEST_P(RoutedToolCall, ANamedToolChoiceComesBackAsThatCallWithJsonArguments) {
  const std::string strategy = GetParam();
  const std::string path = test::make_temp_dir("chat-tools") + "/aio.yaml";
  std::ofstream(path) << "models:\n  small: {path: " << test::tiny_pair().small_path << ", n_ctx: 2048}\n"
                      << "  large: {path: " << test::tiny_pair().large_path << ", n_ctx: 2048}\n"
                      << "threads: 1\n";
  auto cfg = config::load_config(path);
  ASSERT_TRUE(cfg) << cfg.status().to_string();
  auto router = core::Router::create(std::move(*cfg));
  ASSERT_TRUE(router) << router.status().to_string();
  policy::Policy fixed;
  fixed.name = "fixed";
  policy::Rule rule;
  rule.model = strategy == "draft" ? "large" : "small";
  rule.strategy = strategy == "pld" ? Strategy::pld : strategy == "draft" ? Strategy::draft : Strategy::plain;
  if (strategy == "draft") rule.draft_model = "small";
  fixed.rules = {rule};
  ASSERT_TRUE((*router)->add_policy(fixed).ok());

  Request r;
  r.policy = "fixed";
  // "lm-probe": the lm probe runs (a shadow label asks for its verdict) and its model then answers in the probe's
  // slot (the KV-reuse path).
  if (strategy == "lm-probe") {
    r.true_label = "qa";
    r.shadow_probe = true;
  }
  r.messages = {{"user", "What is the weather in Paris?"}};
  r.tools = {weather_tool(), {"get_time", "The time", ""}};
  r.tool_choice = {ToolChoice::Mode::function, "get_weather"};
  r.parallel_tool_calls = false; // one call: random weights would otherwise go on adding calls up to max_tokens
  GenerateParams params;
  params.max_tokens = 200;

  std::optional<chat::OutputFormat> format;
  std::string text;
  std::promise<Expected<engine::GenerationRecord>> done;
  RouteRecord record;
  core::Callbacks cb;
  cb.on_output_format = [&](const chat::OutputFormat &f) { format = f; };
  cb.on_route = [&](const RouteRecord &rec) { record = rec; };
  cb.on_token = [&](std::string_view piece, llama_token, std::span<const engine::TokenLogprob>) {
    text += piece;
    return true;
  };
  cb.on_done = [&](Expected<engine::GenerationRecord> g) { done.set_value(std::move(g)); };
  (*router)->submit(r, params, std::move(cb));
  auto gen = done.get_future().get();
  ASSERT_TRUE(gen) << gen.status().to_string();
  ASSERT_TRUE(format) << "a tool request answered locally says how to read its answer";
  EXPECT_TRUE(record.grammar);
  EXPECT_EQ(gen->finish_reason, FinishReason::end_of_generation) << "the grammar ends the call; text: " << text;

  chat::OutputParser parser(*format);
  auto parsed = parser.update(text, /*final=*/true);
  ASSERT_TRUE(parsed) << parsed.status().to_string() << "\ntext: " << text;
  ASSERT_EQ(parser.parsed().tool_calls.size(), 1u) << text;
  for (const ToolCall &call : parser.parsed().tool_calls) {
    EXPECT_EQ(call.name, "get_weather");
    EXPECT_EQ(call.id.rfind("call_", 0), 0u);
    const auto args = nlohmann::json::parse(call.arguments, nullptr, false);
    ASSERT_TRUE(args.is_object()) << call.arguments;
    ASSERT_TRUE(args.contains("city")) << call.arguments;
    EXPECT_TRUE(args["city"].is_string());
  }
  EXPECT_TRUE(parser.parsed().content.empty()) << "a forced call is the whole answer: " << parser.parsed().content;
  EXPECT_EQ(record.probe.probe_kind, strategy == "lm-probe" ? "lm" : "none");
}

INSTANTIATE_TEST_SUITE_P(Strategies, RoutedToolCall, ::testing::Values("plain", "pld", "draft", "lm-probe"));

} // namespace
} // namespace aio
