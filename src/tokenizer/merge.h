// The pair-merge loop shared by the BPE flavours: repeatedly merge the
// adjacent pair with the best priority (leftmost on ties) until no adjacent
// pair can merge. Byte-level BPE uses priority = -rank (HF tokenizers /
// GPT-2), the SentencePiece-style tokenizers use priority = score (llama2.c
// run.c encode(), llama.cpp's SPM tokenizer).
//
// A heap of candidate pairs with lazy invalidation makes this O(n log n); it
// selects exactly the pair a quadratic "scan all pairs, keep the first best"
// loop would select at every step, so results are identical.
#pragma once

#include <cstdint>
#include <queue>
#include <vector>

namespace seedtune::tok {

struct MergeCandidate {
  bool ok = false;
  double priority = 0.0;   // higher merges first
  int32_t merged_id = -1;
};

// `lookup(left_id, right_id)` returns the candidate for merging that pair.
template <typename Lookup>
void MergePairs(std::vector<int32_t>& ids, const Lookup& lookup) {
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  struct Sym {
    int32_t id;
    int prev;
    int next;
    bool alive;
  };
  std::vector<Sym> syms(n);
  for (int i = 0; i < n; ++i) syms[i] = Sym{ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};

  struct Entry {
    double priority;
    int left;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
  };
  struct Worse {
    bool operator()(const Entry& a, const Entry& b) const {
      if (a.priority != b.priority) return a.priority < b.priority;
      return a.left > b.left;  // leftmost first on ties
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, Worse> heap;
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = syms[left].next;
    if (right < 0) return;
    const MergeCandidate c = lookup(syms[left].id, syms[right].id);
    if (c.ok) heap.push(Entry{c.priority, left, syms[left].id, syms[right].id, c.merged_id});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);

  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    Sym& l = syms[e.left];
    if (!l.alive || l.id != e.left_id || l.next < 0) continue;
    Sym& r = syms[l.next];
    if (r.id != e.right_id) continue;
    // Merge r into l.
    l.id = e.merged_id;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = e.left;
    consider(l.prev);
    consider(e.left);
  }
  ids.clear();
  for (int i = 0; i >= 0; i = syms[i].next) ids.push_back(syms[i].id);
}

}  // namespace seedtune::tok
