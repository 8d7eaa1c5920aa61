// aio.yaml: which models are resident, how requests are probed, which policy routes them, and decoding settings.
// Relative paths are resolved against the config file's directory.
#pragma once

#include <string>
#include <vector>

#include "aio/route.h"
#include "policy/policy_config.h"
#include "probe/lm_probe_params.h"

namespace aio::config {

// One server of a remote model's pool.
struct Replica {
  std::string name;   // how logs, metrics and route records name it (default: host:port of the URL; "local")
  std::string url;    // base URL up to and including /v1, e.g. http://10.0.0.5:8080/v1 ("" for the local member)
  double weight = 1;  // its share of the requests relative to the others (> 0)
  bool local = false; // the model's own GGUF (`path:`), loaded in this process, as one member of its pool
};

// How a pool checks its replicas: GET `path` on each, every `interval_seconds`; an answer other than 2xx within
// `timeout_seconds` ejects the replica, a 2xx re-admits it.
struct HealthCheck {
  // From the server's root (e.g. /health on llama-server, vLLM, TGI); "" = the replica's own URL + /models, the
  // OpenAI API's model list, which every OpenAI-compatible server answers (with the API key, when one is set).
  std::string path;
  double interval_seconds = 5;
  double timeout_seconds = 2;
};

// The most sequences one model decodes together: llama.cpp's limit for one context (LLAMA_MAX_SEQ).
inline constexpr int32_t kMaxSlots = 256;

struct ModelEntry {
  std::string name;          // how policies refer to it, e.g. "small"
  std::string path;          // GGUF file (absolute after loading); empty for a model served only by remote replicas
  uint32_t n_ctx = 4096;     // context (KV cache) size in tokens for this model's session
  int32_t n_gpu_layers = -1; // layers to offload to an accelerator (-1 = all)
  // Flash attention: auto (llama.cpp decides: on where the backend has it, the CPU included), on or off. On a CPU it
  // makes decode at a short context faster and every step at a long one slower (a 1B at 2,400 tokens of context: a
  // decode step 118 ms on, 81 ms off; docs/benchmarks.md), so a deployment of long prompts may want it off.
  enum class FlashAttention { automatic, on, off } flash_attn = FlashAttention::automatic;
  // KV cache layout: unified (one cache every sequence shares; a step's attention reads all sequences' cells, masked)
  // or split (a stream of n_ctx cells per sequence, as llama-server without --kv-unified: a token reads only its own
  // sequence's cells, and a step's streams are read up to the deepest of them). Split keeps a long prompt's cells out
  // of the other streams' steps; unified lets any sequence use what the others leave free.
  enum class KvCache { unified, split } kv_cache = KvCache::unified;
  // Sequences this model decodes together (each with n_ctx tokens of KV cache), or for a pool the requests forwarded
  // to each remote replica at once; 0 = the server's --slots. A small model's KV cache is cheap: more slots for it let
  // its streams wait less for a free one than the large model's.
  int32_t slots = 0;
  // A pool: requests routed here go to one of the OpenAI-compatible servers (llama-server, vLLM, ...) listed
  // (`endpoint: URL` is a pool of one, `endpoints: [...]` of several) - or, in a mixed pool, to the member marked
  // `local`, the GGUF at `path` run by this process's own engine.
  std::vector<Replica> replicas;
  HealthCheck health;
  bool affinity = true;        // a conversation's turns go to one replica (off: every request balanced by load alone)
  std::string remote_model;    // the model name sent upstream ("" = this entry's name)
  double timeout_seconds = 120; // longest wait for the upstream's next bytes before answering 504
  std::string api_key_env;     // environment variable holding the upstream's API key ("" = none)
  int32_t line = 0;            // where it was written (1-based), for messages
  bool remote() const { return path.empty() && !replicas.empty(); } // served only by remote replicas
  bool mixed() const { return !path.empty() && !replicas.empty(); } // loaded here and served by remote replicas too
};

struct ProbeConfig {
  // "lm" (the paper's), "fasttext", or "cascade": the fastText probe reads every request and the lm probe only those
  // it is unsure of (entropy above escalate_entropy_gt), so most requests cost microseconds, not a forward pass.
  std::string kind = "lm";
  std::string model = "small";      // the model the lm probe runs on
  probe::LmProbeParams lm;          // template and labels of the lm probe
  std::string fasttext_model;       // path of a trained fastText probe ("builtin" = the one built with aio)
  double escalate_entropy_gt = 0.5; // cascade: bits of the fastText verdict above which the lm probe reads the request
  bool runs_lm() const { return kind == "lm" || kind == "cascade"; }
  bool runs_fasttext() const { return kind == "fasttext" || kind == "cascade"; }
  // Errors: escalate_entropy_gt below 0, not a number, or at or above log2(n_categories), the most entropy a verdict
  // over that many categories can have (the lm probe would never run).
  Status check_escalation(size_t n_categories) const;
};

struct AioConfig {
  std::string source;                    // the file it was read from
  std::vector<std::string> categories = {"code", "qa", "math"};
  std::vector<ModelEntry> models;
  ProbeConfig probe;
  std::string policy = "aio";            // the policy used when a request names none
  StrategyParams decoding;
  int32_t threads = 0;                   // CPU threads per model (0 = all)
  // Prefill tokens a batched step may carry beside running decodes (chunked prefill): "auto" measures the model's
  // step costs and lets a step with prefill last up to step_factor decode-only steps; a number fixes the tokens per
  // step (decode + prefill). Checked where the engines are made (exec/step_budget.h).
  std::string step_budget = "auto";
  double step_factor = 2.0;
  // A prompt whose whole prefill is expected within this many ms goes in one step beside running streams (first token
  // sooner, one longer gap for the streams); 0 = every prompt in budget chunks; kMaxStallAuto = a few decode steps of
  // the model (exec/step_budget.h: StepBudgetParams::kStallAuto, the same value).
  static constexpr double kMaxStallAuto = -1;
  double max_stall_ms = kMaxStallAuto;
  policy::PolicySet policies;            // the built-in ones plus any the file defines

  const ModelEntry *find_model(const std::string &name) const;
  // The policy, checked against the configured models. Errors name the policies or models that do exist.
  Expected<const policy::Policy *> find_policy(const std::string &name) const;
};

// Reads and checks a config file. Errors say FILE:LINE and what to change.
Expected<AioConfig> load_config(const std::string &path);
// The same for a config given as text (relative paths start in the current directory); `source` names it in messages
// and run records.
Expected<AioConfig> load_config_text(const std::string &text, const std::string &source);

} // namespace aio::config
