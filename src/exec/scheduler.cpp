#include "exec/scheduler.h"

#include <algorithm>

namespace aio::exec {
namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

Expected<Turns> parse_turns(const std::string &name) {
  if (name == "fair") return Turns::fair;
  if (name == "fuller") return Turns::fuller;
  if (name == "oldest") return Turns::oldest;
  if (name == "first") return Turns::first;
  if (name == "rounds") return Turns::rounds;
  return invalid_argument("unknown turn order '" + name + "': use fair, fuller, oldest, first or rounds");
}

Scheduler::Scheduler(std::vector<BatchEngine *> engines, Turns turns, StepObserver on_step)
    : engines_(std::move(engines)), turns_(turns), on_step_(std::move(on_step)), share_(engines_.size()),
      rounds_(engines_.size()), last_step_s_(engines_.size(), 0.0), held_(engines_.size()) {
  for (BatchEngine *e : engines_) e->set_on_submit([this] { wake(); });
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { stop(std::chrono::milliseconds(0)); }

void Scheduler::wake() {
  {
    std::lock_guard lock(mu_);
    ++n_wakes_;
  }
  cv_.notify_one();
}

std::optional<Scheduler::Pick> Scheduler::pick() {
  std::vector<bool> is_busy(engines_.size());
  for (size_t i = 0; i < engines_.size(); ++i) is_busy[i] = engines_[i]->busy();
  const std::optional<size_t> least_time = share_.update(is_busy);
  // The step count only matters to `rounds`; it is updated on every pick (idle ones too), so that an engine back
  // from a pause rejoins level with the others.
  const std::optional<size_t> fewest_steps = turns_ == Turns::rounds ? rounds_.update(is_busy) : std::nullopt;
  if (!least_time) return std::nullopt;
  if (turns_ == Turns::fair) return Pick{.engine = *least_time};
  if (turns_ == Turns::first) return first_tokens_first(is_busy, least_time);
  if (turns_ == Turns::rounds) return first_tokens_first(is_busy, fewest_steps);
  const auto requests = [&](size_t i) { return engines_[i]->n_active() + engines_[i]->n_queued(); };
  std::vector<std::chrono::steady_clock::time_point> since; // Turns::oldest only: each scan of an engine done once
  if (turns_ == Turns::oldest)
    for (BatchEngine *e : engines_)
      since.push_back(e->waiting_since().value_or(std::chrono::steady_clock::time_point::max()));
  // Whether engine a goes before engine b: by the turn order, then by stepping time.
  const auto before = [&](size_t a, size_t b) {
    if (turns_ == Turns::fuller && requests(a) != requests(b)) return requests(a) > requests(b);
    if (turns_ == Turns::oldest && since[a] != since[b]) return since[a] < since[b];
    return share_.used(a) < share_.used(b);
  };
  std::optional<size_t> best;
  for (size_t i = 0; i < engines_.size(); ++i)
    if (is_busy[i] && (!best || before(i, *best))) best = i;
  return Pick{.engine = *best}; // some engine is busy: least_time found one
}

double Scheduler::gap_bound_s(const std::vector<bool> &is_busy, const std::vector<double> &decode_ms,
                              const std::vector<double> &last_step_s) {
  // Decode-only steps, not the last steps: a step with prefill may last the stall allowance (7 decode steps), and a
  // bound of two such steps let a long prompt hold the other model's streams for three of them (2.6-s gaps for a
  // 135M's streams beside a 1B's 2,663-token prompt in bench/serve_cross_model_prompt.py; 0.95 s, one step, now).
  constexpr double kGapSteps = 2;
  double slowest = 0;
  for (size_t i = 0; i < is_busy.size(); ++i)
    if (is_busy[i]) slowest = std::max(slowest, decode_ms[i] > 0 ? decode_ms[i] / 1e3 : last_step_s[i]);
  return kGapSteps * slowest;
}

std::optional<Scheduler::Pick> Scheduler::first_tokens_first(const std::vector<bool> &is_busy,
                                                             std::optional<size_t> fair) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> decode_ms(engines_.size());
  for (size_t i = 0; i < engines_.size(); ++i) decode_ms[i] = engines_[i]->step_budget().decode_step_ms();
  const double bound_s = gap_bound_s(is_busy, decode_ms, last_step_s_);
  const auto bound = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(bound_s));
  const auto now = Clock::now();
  std::optional<size_t> overdue, first;
  Clock::time_point overdue_since = Clock::time_point::max(), first_since = Clock::time_point::max();
  double first_ratio = 0;
  std::vector<bool> streams_waiting(engines_.size(), false);
  for (size_t i = 0; i < engines_.size(); ++i) {
    if (!is_busy[i]) continue;
    const BatchEngine::Waiting w = engines_[i]->waiting();
    streams_waiting[i] = w.next_token.has_value();
    if (w.next_token && now - *w.next_token > bound && *w.next_token < overdue_since) {
      overdue = i;
      overdue_since = *w.next_token;
    }
    // First tokens by response ratio across engines (equal ratios: the oldest request), so a small model's short
    // prompt goes before a large model's long one that is part-way through its reading: by age alone, nine of 14
    // short requests for a 135M waited 20-42 s in its queue while a 1B read 2-4k-token prompts (the long mix).
    if (w.first_token && (w.first_token_ratio > first_ratio ||
                          (w.first_token_ratio == first_ratio && *w.first_token < first_since))) {
      first = i;
      first_since = *w.first_token;
      first_ratio = w.first_token_ratio;
    }
  }
  if (overdue) return Pick{.engine = *overdue};
  if (const auto owed = held_.most_owed(streams_waiting)) return Pick{.engine = *owed, .repaying = true};
  if (first) return Pick{.engine = *first};
  if (fair) return Pick{.engine = *fair};
  return std::nullopt;
}

void Scheduler::run() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = n_wakes_;
    }
    bool worked = false;
    if (const std::optional<Pick> picked = pick()) {
      const size_t i = picked->engine;
      // One engine steps at a time: another's decoding streams wait through this step as if they were its own.
      std::vector<bool> streams_waiting(engines_.size(), false);
      bool others_waiting = false;
      for (size_t j = 0; j < engines_.size(); ++j) {
        streams_waiting[j] = j != i && engines_[j]->streams_waiting();
        others_waiting = others_waiting || streams_waiting[j];
      }
      engines_[i]->set_neighbours(others_waiting           ? Neighbours::waiting
                                  : engines_.size() > 1 ? Neighbours::resident
                                                        : Neighbours::none);
      const auto t0 = std::chrono::steady_clock::now();
      worked = engines_[i]->step();
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      share_.charge(i, took);
      held_.stepped(i, took);
      if (worked) {
        last_step_s_[i] = took;
        if (!picked->repaying) rounds_.charge(i, 1); // a run paying back held time is not the engine's turns
        // A step that only read prompts held the others' streams for all of its time: they are owed it.
        const BatchEngine::StepTokens &carried = engines_[i]->last_step();
        if (others_waiting && carried.decode == 0 && carried.prefill > 0) held_.held(i, streams_waiting, took);
        if (on_step_) {
          BatchEngine &e = *engines_[i];
          on_step_({.engine = i,
                    .start = t0,
                    .ms = took * 1e3,
                    .tokens = e.last_step(),
                    .active = e.n_active(),
                    .queued = e.n_queued(),
                    .others_waiting = others_waiting});
        }
      }
    }
    if (stopping_) {
      if (std::none_of(engines_.begin(), engines_.end(), [](BatchEngine *e) { return e->busy(); })) return;
      if (now_ns() >= deadline_ns_) {
        for (BatchEngine *e : engines_) e->abort_all(aborted("the server is shutting down; the request was not finished"));
        return;
      }
    }
    if (worked) continue;
    // Idle: sleep until a job arrives (no periodic wake-ups stealing the CPU from inference threads elsewhere).
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return n_wakes_ != seen || stopping_.load(); });
  }
}

void Scheduler::stop(std::chrono::milliseconds grace) {
  if (!thread_.joinable()) return;
  deadline_ns_ = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(grace).count();
  for (BatchEngine *e : engines_) e->close();
  stopping_ = true;
  wake();
  thread_.join();
}

} // namespace aio::exec
