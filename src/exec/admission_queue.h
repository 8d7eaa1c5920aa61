// AdmissionQueue: the bounded waiting line in front of a model's slots. A full queue refuses at once (the server
// answers 429 with Retry-After) instead of letting latency grow without bound; close() lets a shutdown drain it.
// All of its locking is here (docs/architecture.md: mutexes and condition variables live in the scheduling layer).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace aio::exec {

template <typename T> class AdmissionQueue {
public:
  explicit AdmissionQueue(size_t capacity) : capacity_(capacity) {}

  // Adds an item; false when the queue is full or closed (the caller refuses the request).
  bool try_push(T item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

  // Takes the oldest item, waiting up to `timeout` for one. nullopt on timeout, or when closed and drained.
  template <typename Rep, typename Period>
  std::optional<T> pop_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  // Takes the oldest item if there is one, without waiting (a scheduler filling free slots between steps).
  std::optional<T> try_pop() { return pop_for(std::chrono::seconds(0)); }

  // Takes the oldest item for which pred(item) holds, passing older ones that do not (they keep their places).
  template <typename Pred> std::optional<T> try_pop_first(Pred pred) {
    std::lock_guard lock(mu_);
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (!pred(std::as_const(*it))) continue;
      T item = std::move(*it);
      items_.erase(it);
      return item;
    }
    return std::nullopt;
  }

  // Waits up to `timeout` until the queue holds an item or is closed; true if an item is there (not taken).
  template <typename Rep, typename Period> bool wait_nonempty_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    return !items_.empty();
  }

  // Refuses new items from now on and wakes every waiter; items already queued can still be taken.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  // f(oldest item) under the lock, or nullopt when empty.
  template <typename F> auto peek_oldest(F f) const -> std::optional<decltype(f(std::declval<const T &>()))> {
    std::lock_guard lock(mu_);
    if (items_.empty()) return std::nullopt;
    return f(items_.front());
  }
  // f(item) for every item, oldest first, under the lock (f must be quick: submitters wait meanwhile).
  template <typename F> void for_each(F f) const {
    std::lock_guard lock(mu_);
    for (const T &item : items_) f(item);
  }
  size_t capacity() const { return capacity_; }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
};

} // namespace aio::exec
