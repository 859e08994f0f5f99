// HAG native library: the greedy HAG search with eager (incremental) pair counts, the cover checker,
// and the fused pull-style sum kernel. Plain C ABI, loaded with ctypes by systems/hag/native/__init__.py
// (see there for why this is a plain shared library and not a CPython/torch extension).
//
// Conventions shared with the Python side:
//   * a graph is a CSR over consumers: the inputs (in-neighbours) of node u are
//     idx[ptr[u] .. ptr[u+1]); ids are int32, offsets int64;
//   * aggregation nodes get ids n, n+1, ... in creation order; every one has exactly two inputs;
//   * set mode: a pair (a, b) is keyed with a < b; seq mode: (first, second) in list order;
//   * the pair chosen is the one with the highest exact redundancy, ties broken by the smallest
//     (a, b) -- the same order as the Python search's heap of (-count, a, b), so results are
//     bit-identical to it.
//
// Written for this project; the released code of Jia et al. (jiazhihao/HAG, greedy.cc) served as the
// behavioural reference only.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

typedef int32_t i32;
typedef int64_t i64;
typedef uint32_t u32;
typedef uint64_t u64;

namespace {

const u32 TOMB = 0x80000000u;  // tombstone bit on a removed input (keeps the segment sorted)
const i32 DEAD = -(1 << 30);    // count of a pair that must never be merged (too deep)

inline u64 pkey(u32 a, u32 b) { return (u64(a) << 32) | u64(b); }
inline u32 key_a(u64 k) { return u32(k >> 32); }
inline u32 key_b(u64 k) { return u32(k & 0xffffffffu); }

inline u64 mix(u64 k) {  // murmur3 finaliser
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// Open-addressing hash map u64 -> i32 (linear probing; no deletion: dead pairs keep their slot).
// Key and value share one 16-byte slot, so a probe touches one cache line.
struct PairMap {
  struct Slot {
    u64 key;
    i32 val;
    i32 pad;
  };
  std::vector<Slot> slots;
  u64 mask = 0;
  size_t used = 0;
  static constexpr u64 EMPTY = ~0ULL;

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 16) cap <<= 1;
    slots.assign(cap, Slot{EMPTY, 0, 0});
    mask = cap - 1;
    used = 0;
  }
  i32* find(u64 k) {
    u64 i = mix(k) & mask;
    while (true) {
      Slot& s = slots[i];
      if (s.key == k) return &s.val;
      if (s.key == EMPTY) return nullptr;
      i = (i + 1) & mask;
    }
  }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots);
    size_t cap = old.size() * 2;
    slots.assign(cap, Slot{EMPTY, 0, 0});
    mask = cap - 1;
    for (const Slot& o : old)
      if (o.key != EMPTY) {
        u64 i = mix(o.key) & mask;
        while (slots[i].key != EMPTY) i = (i + 1) & mask;
        slots[i] = o;
      }
  }
  void insert(u64 k, i32 v) {  // k must be absent
    if (2 * (used + 1) > slots.size()) grow();
    u64 i = mix(k) & mask;
    while (slots[i].key != EMPTY) i = (i + 1) & mask;
    slots[i] = Slot{k, v, 0};
    used++;
  }
  size_t bytes() const { return slots.capacity() * sizeof(Slot); }
};

// Buckets by exact count; within a bucket a min-heap of pair keys (smallest (a, b) first).
// Every live pair sits in exactly one bucket whose index is >= its exact count; a pair whose count
// fell while it waited is moved down when it reaches the top (an O(1) lookup of its exact count in
// the map -- never a recount).
struct Buckets {
  std::vector<std::vector<u64>> b;
  i64 top = -1;
  void ensure(i64 c) {
    if ((i64)b.size() <= c) b.resize(c + 1);
  }
  void push(i64 c, u64 k) {
    ensure(c);
    b[c].push_back(k);
    std::push_heap(b[c].begin(), b[c].end(), std::greater<u64>());
    if (c > top) top = c;
  }
  // Pops the min key of the highest non-empty bucket >= lo; returns false when none is left.
  bool pop(i64 lo, i64& c, u64& k) {
    while (top >= lo) {
      std::vector<u64>& v = b[top];
      if (v.empty()) {
        std::vector<u64>().swap(v);
        top--;
        continue;
      }
      std::pop_heap(v.begin(), v.end(), std::greater<u64>());
      k = v.back();
      v.pop_back();
      c = top;
      return true;
    }
    return false;
  }
  size_t bytes() const {
    size_t s = b.capacity() * sizeof(std::vector<u64>);
    for (auto& v : b) s += v.capacity() * 8;
    return s;
  }
};

// ------------------------------------------------------------------------------------------ set mode

struct SetSearch {
  i32 n;
  i64 E;
  const i64* ptr;
  const i32* idx;
  i64 capacity;
  i32 max_depth, min_red;
  i64 hub_degree;  // consumers with more inputs than this are not tracked (< 0: all tracked)
  bool flat;

  // current input sets: sorted segments with tombstones
  std::vector<u32> cur;
  std::vector<i64> seg_start;
  std::vector<i32> seg_len, seg_cap;
  std::vector<char> tracked, touched;
  // inverted index: consumers whose set (may have) contained x; stale entries dropped lazily
  std::vector<i32> inv_pool;
  std::vector<i64> inv_start;
  std::vector<i32> inv_len;
  std::vector<i32> depth;
  PairMap map;
  Buckets buckets;
  std::vector<u64> flat_order;  // pw: the initial pairs in (-count, a, b) order
  // scratch
  std::vector<i32> newcnt;
  std::vector<i32> newtouched;
  std::vector<i32> cons;
  // outputs
  std::vector<i32> agg_a, agg_b, agg_d;
  // stats
  i64 pops = 0, moved = 0, initial_pairs = 0, pair_work = 0, updates = 0, tracked_nodes = 0;
  size_t peak_bytes = 0;

  bool member(i32 u, u32 x) const {
    const u32* s = cur.data() + seg_start[u];
    i32 lo = 0, hi = seg_len[u];
    while (lo < hi) {
      i32 mid = (lo + hi) >> 1;
      u32 v = s[mid] & ~TOMB;
      if (v < x) lo = mid + 1;
      else hi = mid;
    }
    return lo < seg_len[u] && s[lo] == x;
  }
  void remove(i32 u, u32 x) {
    u32* s = cur.data() + seg_start[u];
    i32 lo = 0, hi = seg_len[u];
    while (lo < hi) {
      i32 mid = (lo + hi) >> 1;
      u32 v = s[mid] & ~TOMB;
      if (v < x) lo = mid + 1;
      else hi = mid;
    }
    s[lo] |= TOMB;  // caller guarantees membership
  }
  void append(i32 u, u32 w) {
    u32* s = cur.data() + seg_start[u];
    if (seg_len[u] == seg_cap[u]) {  // compact away tombstones (two were freed per merge)
      i32 o = 0;
      for (i32 i = 0; i < seg_len[u]; i++)
        if (!(s[i] & TOMB)) s[o++] = s[i];
      seg_len[u] = o;
    }
    s[seg_len[u]++] = w;
  }

  inline void dec(u32 x, u32 y, i32 by) {
    u64 k = x < y ? pkey(x, y) : pkey(y, x);
    i32* c = map.find(k);
    if (c && *c > 0) *c -= by;
  }

  int run() {
    const i64 total = (i64)n + capacity;
    // ---- segments (sorted copies of the input lists)
    cur.resize(E);
    seg_start.resize(n);
    seg_len.resize(n);
    seg_cap.resize(n);
    tracked.assign(n, 0);
    touched.assign(n, 0);
    for (i32 u = 0; u < n; u++) {
      i64 s = ptr[u], e = ptr[u + 1];
      seg_start[u] = s;
      seg_len[u] = seg_cap[u] = (i32)(e - s);
      for (i64 p = s; p < e; p++) cur[p] = (u32)idx[p];
      std::sort(cur.begin() + s, cur.begin() + e);
      for (i64 p = s + 1; p < e; p++)
        if (cur[p] == cur[p - 1]) return -2;  // duplicate input
      tracked[u] = (hub_degree < 0 || (e - s) <= hub_degree) ? 1 : 0;
      tracked_nodes += tracked[u];
    }
    // ---- inverted index (transpose), original nodes first; new nodes appended later
    inv_start.assign(total, 0);
    inv_len.assign(total, 0);
    {
      std::vector<i64> cnt(n + 1, 0);
      for (i64 p = 0; p < E; p++) cnt[idx[p] + 1]++;
      for (i32 x = 0; x < n; x++) cnt[x + 1] += cnt[x];
      inv_pool.resize(E);
      std::vector<i64> fill(cnt.begin(), cnt.end() - 1);
      for (i32 u = 0; u < n; u++)
        for (i64 p = ptr[u]; p < ptr[u + 1]; p++) inv_pool[fill[idx[p]]++] = u;
      for (i32 x = 0; x < n; x++) {
        inv_start[x] = cnt[x];
        inv_len[x] = (i32)(cnt[x + 1] - cnt[x]);
      }
    }
    depth.assign(total, 0);
    // ---- initial pair counts over tracked consumers: row by row, dense accumulator
    std::vector<i32> acc(n, 0);
    std::vector<i32> hit;
    std::vector<std::pair<u32, i32>> found;  // (b, count) for one a
    std::vector<std::pair<i32, u64>> all;    // flat mode only: (count, key)
    size_t est = 0;
    // first pass: count the surviving pairs to size the map once
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1) map.reserve(est);
      for (i32 a = 0; a < n; a++) {
        hit.clear();
        const i32* cl = inv_pool.data() + inv_start[a];
        for (i32 j = 0; j < inv_len[a]; j++) {
          i32 u = cl[j];
          if (!tracked[u]) continue;
          const u32* s = cur.data() + seg_start[u];
          i32 L = seg_len[u];
          // inputs > a: binary search for a's position
          i32 lo = (i32)(std::upper_bound(s, s + L, (u32)a) - s);
          if (pass == 0) pair_work += L - lo;
          for (i32 q = lo; q < L; q++) {
            i32 b = (i32)s[q];
            if (acc[b]++ == 0) hit.push_back(b);
          }
        }
        found.clear();
        for (i32 b : hit) {
          if (acc[b] >= min_red) found.push_back(std::make_pair((u32)b, acc[b]));
          acc[b] = 0;
        }
        if (pass == 0) {
          est += found.size();
          continue;
        }
        std::sort(found.begin(), found.end());
        for (auto& f : found) {
          u64 k = pkey((u32)a, f.first);
          map.insert(k, f.second);
          if (flat) all.push_back(std::make_pair(f.second, k));
          else buckets.push(f.second, k);  // keys arrive in ascending order: each bucket stays a heap
        }
      }
    }
    initial_pairs = (i64)est;
    if (flat) {
      std::sort(all.begin(), all.end(), [](const std::pair<i32, u64>& x, const std::pair<i32, u64>& y) {
        if (x.first != y.first) return x.first > y.first;
        return x.second < y.second;
      });
      flat_order.resize(all.size());
      for (size_t i = 0; i < all.size(); i++) flat_order[i] = all[i].second;
      std::vector<std::pair<i32, u64>>().swap(all);
    }
    std::vector<i32>().swap(acc);
    newcnt.assign(total, 0);
    note_peak();
    // ---- the greedy loop
    size_t fpos = 0;
    while ((i64)agg_a.size() < capacity) {
      i64 c;
      u64 k;
      if (flat) {
        if (fpos >= flat_order.size()) break;
        k = flat_order[fpos++];
        pops++;
        i32* cc = map.find(k);
        if (!cc || *cc < min_red) continue;
        c = *cc;
      } else {
        if (!buckets.pop(min_red, c, k)) break;
        pops++;
        i32* cc = map.find(k);
        i32 exact = cc ? *cc : 0;
        if (exact != c) {  // its count fell while it waited: move it down (no recount)
          if (exact >= min_red) {
            buckets.push(exact, k);
            moved++;
          }
          continue;
        }
      }
      u32 a = key_a(k), b = key_b(k);
      i32 d = 1 + std::max(depth[a], depth[b]);
      if (d > max_depth) {
        *map.find(k) = DEAD;
        continue;
      }
      int r = merge(a, b, d, c);
      if (r < 0) return r;
      if ((agg_a.size() & 1023) == 0) note_peak();
    }
    note_peak();
    return (int)agg_a.size();
  }

  // Merges (a, b) into a new node w; c is its exact tracked count.
  int merge(u32 a, u32 b, i32 d, i64 c) {
    const i32 w = n + (i32)agg_a.size();
    // consumers: walk the shorter inverted list; drop stale entries on the way
    u32 s1 = a, s2 = b;
    if (inv_len[b] < inv_len[a]) std::swap(s1, s2);
    cons.clear();
    {
      i32* L = inv_pool.data() + inv_start[s1];
      i32 o = 0, len = inv_len[s1];
      for (i32 j = 0; j < len; j++) {
        i32 u = L[j];
        if (!member(u, s1)) continue;  // stale
        if (member(u, s2)) cons.push_back(u);  // loses s1 now: drop from the list
        else L[o++] = u;
      }
      inv_len[s1] = o;
    }
    i64 ntracked = 0;
    for (i32 u : cons) ntracked += tracked[u];
    if (ntracked != c) return -3;  // internal inconsistency (never expected)
    newtouched.clear();
    for (i32 u : cons) {
      touched[u] = 1;
      if (tracked[u]) {
        // rewrite the segment without a, b and tombstones; update the counts on the way
        u32* s = cur.data() + seg_start[u];
        i32 o = 0;
        for (i32 i = 0; i < seg_len[u]; i++) {
          u32 x = s[i];
          if ((x & TOMB) || x == a || x == b) continue;
          s[o++] = x;
          if (newcnt[x]++ == 0) newtouched.push_back((i32)x);
        }
        seg_len[u] = o;
        s[seg_len[u]++] = (u32)w;
      } else {
        remove(u, a);
        remove(u, b);
        append(u, (u32)w);
      }
    }
    *map.find(pkey(a, b)) = 0;
    // the new node's inverted list is exactly its consumers
    inv_start[w] = (i64)inv_pool.size();
    inv_len[w] = (i32)cons.size();
    inv_pool.insert(inv_pool.end(), cons.begin(), cons.end());
    depth[w] = d;
    agg_a.push_back((i32)a);
    agg_b.push_back((i32)b);
    agg_d.push_back(d);
    // pairs (x, w), x < w, with their exact counts
    std::sort(newtouched.begin(), newtouched.end());
    for (i32 x : newtouched) {
      i32 k = newcnt[x];
      newcnt[x] = 0;
      // every tracked consumer holding x lost a and b: one update per distinct x
      dec(a, (u32)x, k);
      dec(b, (u32)x, k);
      updates += 2;
      if (flat || k < min_red) continue;
      if (1 + std::max(depth[x], d) > max_depth) continue;  // could never be merged
      u64 key = pkey((u32)x, (u32)w);
      map.insert(key, k);
      buckets.push(k, key);
    }
    return 0;
  }

  void note_peak() {
    size_t s = cur.capacity() * 4 + inv_pool.capacity() * 4 + map.bytes() + buckets.bytes() +
               flat_order.capacity() * 8 + (seg_start.capacity() + inv_start.capacity()) * 8 +
               (seg_len.capacity() + seg_cap.capacity() + inv_len.capacity() + depth.capacity() +
                newcnt.capacity()) * 4;
    if (s > peak_bytes) peak_bytes = s;
  }
};

// ------------------------------------------------------------------------------------------ seq mode

struct SeqSearch {
  i32 n;
  i64 E;
  const i64* ptr;
  const i32* idx;
  i64 capacity;
  i32 max_depth, min_red;

  std::vector<i32> first;   // current first input of u
  std::vector<i64> pos;     // position (in idx) of u's second input
  std::vector<i32> depth;
  PairMap map;              // key -> record id
  std::vector<i64> rec_start;
  std::vector<i32> rec_len;
  std::vector<i32> pool;    // consumers, grouped by record
  Buckets buckets;
  std::vector<i32> agg_a, agg_b, agg_d;
  std::vector<std::pair<u64, i32>> scratch;
  i64 pops = 0, initial_pairs = 0;
  size_t peak_bytes = 0;

  void add_groups(std::vector<std::pair<u64, i32>>& kv) {
    std::sort(kv.begin(), kv.end());
    size_t i = 0;
    while (i < kv.size()) {
      size_t j = i;
      while (j < kv.size() && kv[j].first == kv[i].first) j++;
      if ((i64)(j - i) >= min_red) {
        i32 rid = (i32)rec_start.size();
        rec_start.push_back((i64)pool.size());
        rec_len.push_back((i32)(j - i));
        for (size_t q = i; q < j; q++) pool.push_back(kv[q].second);
        map.insert(kv[i].first, rid);
        buckets.push((i64)(j - i), kv[i].first);
      }
      i = j;
    }
  }

  int run() {
    const i64 total = (i64)n + capacity;
    first.assign(n, -1);
    pos.assign(n, 0);
    depth.assign(total, 0);
    map.reserve(1024);
    scratch.clear();
    for (i32 u = 0; u < n; u++) {
      i64 s = ptr[u], e = ptr[u + 1];
      if (e > s) first[u] = idx[s];
      pos[u] = s + 1;
      if (e - s >= 2) scratch.push_back(std::make_pair(pkey((u32)idx[s], (u32)idx[s + 1]), u));
    }
    add_groups(scratch);
    initial_pairs = (i64)rec_start.size();
    while ((i64)agg_a.size() < capacity) {
      i64 c;
      u64 k;
      if (!buckets.pop(min_red, c, k)) break;
      pops++;
      u32 a = key_a(k), b = key_b(k);
      i32 d = 1 + std::max(depth[a], depth[b]);
      if (d > max_depth) continue;
      i32 rid = *map.find(k);
      const i32 w = n + (i32)agg_a.size();
      depth[w] = d;
      agg_a.push_back((i32)a);
      agg_b.push_back((i32)b);
      agg_d.push_back(d);
      scratch.clear();
      for (i32 j = 0; j < rec_len[rid]; j++) {
        i32 u = pool[rec_start[rid] + j];
        first[u] = w;
        pos[u]++;
        if (pos[u] < ptr[u + 1]) scratch.push_back(std::make_pair(pkey((u32)w, (u32)idx[pos[u]]), u));
      }
      add_groups(scratch);
    }
    peak_bytes = map.bytes() + buckets.bytes() + pool.capacity() * 4 + rec_start.capacity() * 12 +
                 (first.capacity() + depth.capacity()) * 4 + pos.capacity() * 8;
    return (int)agg_a.size();
  }
};

}  // namespace

extern "C" {

int hag_native_version() { return 3; }

// Greedy HAG search. Inputs: CSR (n, ptr[n+1], idx[E]). Outputs (preallocated by the caller):
// agg_out[2*capacity] (a, b per node), depth_out[capacity], new_ptr[n+1], new_idx[E]
// (set mode: sorted lists of nodes a merge touched, untouched ones in input order; seq: list order),
// stats[8] = pops, moved, initial pairs, pair-count work, count updates, tracked nodes, peak bytes, 0.
// mode 0 = set, 1 = seq; flat = 1 runs the one-pass pw heuristic (set mode only).
// Returns the number of aggregation nodes, or < 0: -1 out of memory, -2 duplicate input, -3 internal.
i64 hag_search(i32 n, const i64* ptr, const i32* idx, i64 capacity, i32 max_depth, i32 min_red,
               i64 hub_degree, i32 mode, i32 flat, i32* agg_out, i32* depth_out, i64* new_ptr,
               i32* new_idx, i64* stats) {
  try {
    const i64 E = ptr[n];
    if (mode == 0) {
      SetSearch s;
      s.n = n; s.E = E; s.ptr = ptr; s.idx = idx; s.capacity = capacity; s.max_depth = max_depth;
      s.min_red = min_red; s.hub_degree = hub_degree; s.flat = flat != 0;
      int r = s.run();
      if (r < 0) return r;
      i64 m = (i64)s.agg_a.size();
      for (i64 i = 0; i < m; i++) {
        agg_out[2 * i] = s.agg_a[i];
        agg_out[2 * i + 1] = s.agg_b[i];
        depth_out[i] = s.agg_d[i];
      }
      i64 o = 0;
      new_ptr[0] = 0;
      for (i32 u = 0; u < n; u++) {
        if (s.touched[u]) {
          const u32* seg = s.cur.data() + s.seg_start[u];
          for (i32 i = 0; i < s.seg_len[u]; i++)
            if (!(seg[i] & TOMB)) new_idx[o++] = (i32)seg[i];
        } else {
          for (i64 p = ptr[u]; p < ptr[u + 1]; p++) new_idx[o++] = idx[p];
        }
        new_ptr[u + 1] = o;
      }
      stats[0] = s.pops; stats[1] = s.moved; stats[2] = s.initial_pairs; stats[3] = s.pair_work;
      stats[4] = s.updates; stats[5] = s.tracked_nodes; stats[6] = (i64)s.peak_bytes; stats[7] = 0;
      return m;
    } else {
      SeqSearch s;
      s.n = n; s.E = E; s.ptr = ptr; s.idx = idx; s.capacity = capacity; s.max_depth = max_depth;
      s.min_red = min_red;
      int r = s.run();
      if (r < 0) return r;
      i64 m = (i64)s.agg_a.size();
      for (i64 i = 0; i < m; i++) {
        agg_out[2 * i] = s.agg_a[i];
        agg_out[2 * i + 1] = s.agg_b[i];
        depth_out[i] = s.agg_d[i];
      }
      i64 o = 0;
      new_ptr[0] = 0;
      for (i32 u = 0; u < n; u++) {
        if (ptr[u + 1] > ptr[u]) {
          new_idx[o++] = s.first[u];
          for (i64 p = s.pos[u]; p < ptr[u + 1]; p++) new_idx[o++] = idx[p];
        }
        new_ptr[u + 1] = o;
      }
      stats[0] = s.pops; stats[1] = 0; stats[2] = s.initial_pairs; stats[3] = 0; stats[4] = 0;
      stats[5] = n; stats[6] = (i64)s.peak_bytes; stats[7] = 0;
      return m;
    }
  } catch (const std::bad_alloc&) {
    return -1;
  }
}

// Cover check: cover(v) == N(v) for every real node (set mode: as multisets; seq: as sequences).
// The HAG: m aggregation nodes (ids n..n+m-1, inputs agg[2i], agg[2i+1]), real-node inputs
// (hptr, hidx). The graph: (gptr, gidx). Returns -1 when every node matches, else the first node v
// whose cover differs (or that has an unknown input id).
i64 hag_verify(i32 n, i64 m, const i32* agg, const i64* hptr, const i32* hidx, const i64* gptr,
               const i32* gidx, i32 seq) {
  try {
    std::vector<i32> stack, got, want;
    for (i32 v = 0; v < n; v++) {
      const i64 dv = gptr[v + 1] - gptr[v];
      got.clear();
      stack.clear();
      for (i64 p = hptr[v + 1] - 1; p >= hptr[v]; p--) stack.push_back(hidx[p]);
      bool bad = false;
      while (!stack.empty()) {
        i32 x = stack.back();
        stack.pop_back();
        if (x < 0 || (i64)x >= (i64)n + m) { bad = true; break; }
        if (x < n) {
          got.push_back(x);
          if ((i64)got.size() > dv) { bad = true; break; }
        } else {
          i64 i = (i64)x - n;
          stack.push_back(agg[2 * i + 1]);
          stack.push_back(agg[2 * i]);
        }
      }
      if (bad || (i64)got.size() != dv) return v;
      want.assign(gidx + gptr[v], gidx + gptr[v + 1]);
      if (!seq) {
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
      }
      if (got != want) return v;
    }
    return -1;
  } catch (const std::bad_alloc&) {
    return -2;
  }
}

// ------------------------------------------------------------------------------------------ kernel
// One pull pass over a values-free int32 CSR, the analogue of aggre_coop_kernel in jiazhihao/HAG:
//   dst[r - base] = sum_{p in ptr[r]..ptr[r+1]} src(idx[p]),  src(j) = j < split ? lo[j] : hi[j - split]
// for every row r of each range (ranges[2k], ranges[2k+1]), ranges in the order given. Rows of one
// range are independent (one HAG level) and run in parallel when threads > 1; ranges run one after
// another. Range k writes into `hi` when dst_hi[k] != 0 (aggregation nodes) else into `out` (real
// nodes), at row r - dst_base[k]; dst_hi[k] == 2 promises exactly two inputs per row (a tighter loop).
} // extern "C" (reopened below)

#define KNS kern_base
#include "hag_kernel.inc"
#undef KNS
#pragma GCC push_options
#pragma GCC target("avx2")
#define KNS kern_avx2
#include "hag_kernel.inc"
#undef KNS
#pragma GCC pop_options

static int use_avx2() {
  static int v = -1;
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx2") ? 1 : 0;
  }
  return v;
}

extern "C" {

void hag_pull_sum_f32(i32 nranges, const i64* ranges, const i64* dst_base, const i32* dst_hi, i32 d,
                      const i64* ptr, const i32* idx, i64 split, const float* lo, float* hi, float* out,
                      i32 threads) {
  if (use_avx2()) kern_avx2::pull_pass<float>(nranges, ranges, dst_base, dst_hi, d, ptr, idx, split, lo, hi, out, threads);
  else kern_base::pull_pass<float>(nranges, ranges, dst_base, dst_hi, d, ptr, idx, split, lo, hi, out, threads);
}

void hag_pull_sum_f64(i32 nranges, const i64* ranges, const i64* dst_base, const i32* dst_hi, i32 d,
                      const i64* ptr, const i32* idx, i64 split, const double* lo, double* hi, double* out,
                      i32 threads) {
  if (use_avx2()) kern_avx2::pull_pass<double>(nranges, ranges, dst_base, dst_hi, d, ptr, idx, split, lo, hi, out, threads);
  else kern_base::pull_pass<double>(nranges, ranges, dst_base, dst_hi, d, ptr, idx, split, lo, hi, out, threads);
}

int hag_has_openmp() {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}

}  // extern "C"
