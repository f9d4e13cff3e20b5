// Kvasir CUDA simulator runtime: runs one kernel launch on the CPU, block after block, the threads
// of a block as cooperatively scheduled fibers (one stack each, reused across blocks and launches).
//
// A thread runs until it reaches a synchronising operation (__syncthreads, a warp shuffle,
// __syncwarp) or returns; when no thread can run any more, the scheduler completes the pending
// warp operations whose lanes have all arrived, else releases a barrier that every thread of the
// block has reached, else reports why the block cannot go on, which on a GPU is undefined
// behaviour: a barrier some threads never reach or reach after others exited (barrier
// divergence), a shuffle whose mask names lanes that exited, do not exist, or wait somewhere
// else. Every __syncthreads is the same barrier, as on the GPU (bar.sync 0 wherever it is called),
// and warp operations are matched by kind, mask and width, not by call site: the compiler may
// duplicate one source-level call (g++ -O2 turns prefill's 5 __syncthreads into 7 call sites), so
// telling sites apart reported divergence that the GPU does not have.
//
// Between sync points threads run in thread order, or in reverse order with
// KVASIR_SIM_ORDER=reverse: a missing barrier makes some thread read shared memory before the
// thread that writes it ran in one of the two orders, which the harness then sees as a wrong
// (NaN-poisoned or stale) result.
#include "kvsim.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "include/kvsim_device.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define KVSIM_ASAN 1
#else
#define KVSIM_ASAN 0
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

// ---- Context switch ----------------------------------------------------------------------------
#if defined(__x86_64__)
// kvsim_ctx_switch(save, to): saves the callee-saved registers, MXCSR and the x87 control word on
// the current stack, stores the stack pointer in *save, and resumes the context whose stack
// pointer is `to`. A few nanoseconds, where swapcontext makes a sigprocmask system call.
extern "C" void kvsim_ctx_switch(void** save, void* to);
asm(R"(
  .text
  .globl kvsim_ctx_switch
  .hidden kvsim_ctx_switch
  .type kvsim_ctx_switch, @function
kvsim_ctx_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size kvsim_ctx_switch, .-kvsim_ctx_switch
)");
#endif

namespace {

enum class State : uint8_t { Ready, Barrier, Warp, Done };

struct Fiber {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t ctx;
#endif
  char* stack = nullptr;  // lowest usable address
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // ASan's fake stack while switched away
  State state = State::Ready;
  uint3 tid{};
  unsigned mask = 0;
  int mode = 0, arg = 0, width = 0;
  uint64_t value = 0, result = 0;
};

// Fiber stacks: kMaxThreads of them in one mapping that asks for transparent huge pages, since a
// block's threads switch in turn and touch every stack top: one TLB entry per 2 MiB, not per stack.
// No guard pages (they would split the huge pages); a canary at the bottom of each stack is
// checked after every block instead.
constexpr size_t kStackSize = 128 * 1024;
constexpr unsigned kMaxThreads = 1024;
constexpr uint64_t kCanary = 0x6b7673696d5f5f21ull;  // "kvsim__!"

struct Sim {
  std::mutex mutex;
  std::vector<Fiber> fibers;  // one per thread slot, stacks kept
  unsigned threads = 0;       // threads of the current block
  Fiber* current = nullptr;
#if defined(__x86_64__)
  void* main_sp = nullptr;
#else
  ucontext_t main_ctx;
#endif
  void* main_fake = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  const kvsim::KernelEntry* kernel = nullptr;
  void** params = nullptr;
  unsigned char* smem = nullptr;
  size_t smem_size = 0;
};

Sim& sim() {
  static Sim* s = new Sim;  // never destroyed: launches may come from exit handlers
  return *s;
}
Sim* g_sim = nullptr;  // sim(), once a launch has started: the hot paths skip the static's guard

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "kvsim: %s\n", what);
  std::abort();
}

char* stack_arena() {
  static char* arena = [] {
    const size_t huge = size_t{2} << 20;
    const size_t bytes = kStackSize * kMaxThreads;
    void* p = mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die("cannot map the fiber stacks");
    char* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1));
#ifdef MADV_HUGEPAGE
    madvise(base, bytes, MADV_HUGEPAGE);
#endif
    return base;
  }();
  return arena;
}

// Called on a fiber's stack whenever it (re)gains control.
inline void after_switch_in(Fiber& f) {
#if KVSIM_ASAN
  Sim& s = *g_sim;
  __sanitizer_finish_switch_fiber(f.fake_stack, &s.main_bottom, &s.main_size);
#else
  (void)f;
#endif
}

// Switches from the running fiber back to the scheduler; returns when it is resumed.
void yield_to_scheduler(bool exiting) {
  Sim& s = *g_sim;
  Fiber& f = *s.current;
#if KVSIM_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &f.fake_stack, s.main_bottom, s.main_size);
#else
  (void)exiting;
#endif
#if defined(__x86_64__)
  kvsim_ctx_switch(&f.sp, s.main_sp);
#else
  swapcontext(&f.ctx, &s.main_ctx);
#endif
  after_switch_in(f);
}

extern "C" void kvsim_fiber_entry() {
  Sim& s = *g_sim;
  after_switch_in(*s.current);
  s.kernel->invoke(s.params);
  s.current->state = State::Done;
  yield_to_scheduler(true);
  die("a finished fiber was resumed");
}

void reset_fiber(Fiber& f) {
  if (f.stack == nullptr) {
    f.stack_size = kStackSize;
    f.stack = stack_arena() + kStackSize * static_cast<size_t>(&f - g_sim->fibers.data());
  }
  std::memcpy(f.stack, &kCanary, sizeof kCanary);
  f.fake_stack = nullptr;
#if defined(__x86_64__)
  // The stack kvsim_ctx_switch expects: MXCSR/FCW word, r15..rbp, then the "return address"
  // kvsim_fiber_entry, above it a null return address for that function (its frame is the
  // last), placed so that it starts with rsp = 8 mod 16 as a called function does.
  uintptr_t top = reinterpret_cast<uintptr_t>(f.stack + f.stack_size) & ~uintptr_t{15};
  uint64_t* sp = reinterpret_cast<uint64_t*>(top);
  *--sp = 0;                                                   // kvsim_fiber_entry's return address
  *--sp = reinterpret_cast<uint64_t>(&kvsim_fiber_entry);      // where ret goes
  for (int i = 0; i < 6; ++i) *--sp = 0;                       // rbp rbx r12 r13 r14 r15
  uint32_t mxcsr;
  uint16_t fcw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fcw));
  *--sp = static_cast<uint64_t>(mxcsr) | (static_cast<uint64_t>(fcw) << 32);
  f.sp = sp;
#else
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack;
  f.ctx.uc_stack.ss_size = f.stack_size;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, reinterpret_cast<void (*)()>(&kvsim_fiber_entry), 0);
#endif
  f.state = State::Ready;
}

void run_fiber(Fiber& f) {
  Sim& s = *g_sim;
  s.current = &f;
  threadIdx = f.tid;
#if KVSIM_ASAN
  __sanitizer_start_switch_fiber(&s.main_fake, f.stack, f.stack_size);
#endif
#if defined(__x86_64__)
  kvsim_ctx_switch(&s.main_sp, f.sp);
#else
  swapcontext(&s.main_ctx, &f.ctx);
#endif
#if KVSIM_ASAN
  __sanitizer_finish_switch_fiber(s.main_fake, nullptr, nullptr);
#endif
  s.current = nullptr;
}

std::string thread_name(const Fiber& f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "thread (%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z);
  return buf;
}

const char* op_name(int mode) {
  switch (mode) {
    case KVSIM_SHFL_IDX: return "__shfl_sync";
    case KVSIM_SHFL_UP: return "__shfl_up_sync";
    case KVSIM_SHFL_DOWN: return "__shfl_down_sync";
    case KVSIM_SHFL_XOR: return "__shfl_xor_sync";
    default: return "__syncwarp";
  }
}

// Source lane of `lane` for a shuffle, or -1 when the lane keeps its own value.
int shuffle_source(int mode, int lane, int arg, int width) {
  const int base = lane & ~(width - 1);
  const int in_group = lane - base;
  switch (mode) {
    case KVSIM_SHFL_IDX: return base + (arg & (width - 1));
    case KVSIM_SHFL_UP: return in_group - arg >= 0 ? lane - arg : -1;
    case KVSIM_SHFL_DOWN: return in_group + arg < width ? lane + arg : -1;
    case KVSIM_SHFL_XOR: {
      const int src = lane ^ arg;
      return src >= base && src < base + width ? src : -1;
    }
    default: return -1;
  }
}

// Completes the warp operations whose lanes have all arrived. Returns false with `error` set when
// one never can; sets `progress` when some lanes were released.
bool resolve_warps(std::string& error, bool& progress) {
  Sim& s = *g_sim;
  const unsigned n = s.threads;
  for (unsigned w = 0; w * 32 < n; ++w) {
    for (unsigned l = 0; l < 32 && w * 32 + l < n; ++l) {
      Fiber& f = s.fibers[w * 32 + l];
      if (f.state != State::Warp) continue;
      // The common case: a full warp, every lane at the same full-mask operation.
      if (f.mask == 0xffffffffu && w * 32 + 32 <= n && (f.mode == KVSIM_SYNCWARP || f.width == 32) && l == 0) {
        Fiber* lanes = &s.fibers[w * 32];
        bool same = true;
        for (unsigned b = 1; b < 32 && same; ++b) {
          const Fiber& g = lanes[b];
          same = g.state == State::Warp && g.mode == f.mode && g.mask == f.mask && g.width == f.width;
        }
        if (same && f.mode == KVSIM_SHFL_XOR) {
          bool uniform = true;
          for (unsigned b = 1; b < 32 && uniform; ++b) uniform = lanes[b].arg == f.arg;
          if (uniform && f.arg >= 0 && f.arg < 32) {
            for (unsigned b = 0; b < 32; ++b) lanes[b].result = lanes[b ^ static_cast<unsigned>(f.arg)].value;
            for (unsigned b = 0; b < 32; ++b) lanes[b].state = State::Ready;
            progress = true;
            break;
          }
        }
      }
      const char* op = op_name(f.mode);
      if (!(f.mask & (1u << l))) {
        error = thread_name(f) + " calls " + op + " with a mask that does not include its own lane";
        return false;
      }
      if (f.mode != KVSIM_SYNCWARP && (f.width <= 0 || f.width > 32 || (f.width & (f.width - 1)) != 0)) {
        error = thread_name(f) + " calls " + op + " with width " + std::to_string(f.width) + " (not a power of 2 <= 32)";
        return false;
      }
      for (unsigned b = 0; b < 32; ++b) {
        if (!(f.mask & (1u << b))) continue;
        const unsigned idx = w * 32 + b;
        const char* why = nullptr;
        if (idx >= n) {
          why = "does not exist";
        } else {
          const Fiber& g = s.fibers[idx];
          if (g.state == State::Done) {
            why = "has exited";
          } else if (g.state == State::Barrier) {
            why = "waits at a __syncthreads instead";
          } else if (g.mode != f.mode || g.mask != f.mask || g.width != f.width) {
            why = "waits at a different warp operation";
          }
        }
        if (why != nullptr) {
          char mask_text[16];
          std::snprintf(mask_text, sizeof mask_text, "0x%08x", f.mask);
          error = thread_name(f) + " calls " + op + " with mask " + mask_text + ", but lane " + std::to_string(b) +
                  " of its warp " + why + " (a block of " + std::to_string(n) + " threads)";
          return false;
        }
      }
      // Every lane of the mask is here: exchange.
      for (unsigned b = 0; b < 32; ++b) {
        if (!(f.mask & (1u << b))) continue;
        Fiber& g = s.fibers[w * 32 + b];
        g.result = g.value;
        if (f.mode != KVSIM_SYNCWARP) {
          const int src = shuffle_source(f.mode, static_cast<int>(b), g.arg, f.width);
          if (src >= 0) {
            if (!(f.mask & (1u << src))) {
              error = thread_name(g) + " calls " + op + " reading lane " + std::to_string(src) + ", which is not in its mask";
              return false;
            }
            g.result = s.fibers[w * 32 + src].value;
          }
        }
      }
      for (unsigned b = 0; b < 32; ++b) {
        if (f.mask & (1u << b)) s.fibers[w * 32 + b].state = State::Ready;
      }
      progress = true;
    }
  }
  return true;
}

std::string run_block(bool reverse) {
  Sim& s = *g_sim;
  const unsigned n = s.threads;
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = s.fibers[i];
    reset_fiber(f);
    f.tid = uint3{i % blockDim.x, (i / blockDim.x) % blockDim.y, i / (blockDim.x * blockDim.y)};
  }
  if (s.smem_size > 0) std::memset(s.smem, 0xff, s.smem_size);  // NaN in every float type, -1 in ints
  for (;;) {
    for (unsigned k = 0; k < n; ++k) {
      Fiber& f = s.fibers[reverse ? n - 1 - k : k];
      if (f.state == State::Ready) run_fiber(f);
    }
    unsigned done = 0, at_barrier = 0;
    for (unsigned i = 0; i < n; ++i) {
      done += s.fibers[i].state == State::Done;
      at_barrier += s.fibers[i].state == State::Barrier;
    }
    if (done == n) {
      for (unsigned i = 0; i < n; ++i) {
        if (std::memcmp(s.fibers[i].stack, &kCanary, sizeof kCanary) != 0) die("a fiber overflowed its stack");
      }
      return {};
    }
    std::string error;
    bool progress = false;
    if (!resolve_warps(error, progress)) return error;
    if (progress) continue;
    // No warp operation pending: a barrier every live thread waits at.
    const Fiber* first_waiting = nullptr;
    const Fiber* first_done = nullptr;
    for (unsigned i = 0; i < n; ++i) {
      const Fiber& f = s.fibers[i];
      if (f.state == State::Barrier && first_waiting == nullptr) first_waiting = &f;
      if (f.state == State::Done && first_done == nullptr) first_done = &f;
    }
    if (first_waiting == nullptr) return "the scheduler found no thread to run (internal error)";
    if (first_done != nullptr) {
      return "barrier divergence: " + std::to_string(at_barrier) + " threads (first " + thread_name(*first_waiting) +
             ") wait at a __syncthreads that " + std::to_string(done) + " threads (first " + thread_name(*first_done) +
             ") exited without reaching";
    }
    for (unsigned i = 0; i < n; ++i) s.fibers[i].state = State::Ready;
  }
}

std::string dims(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

}  // namespace

extern "C" void kvsim_syncthreads(void) {
  if (g_sim == nullptr || g_sim->current == nullptr) die("__syncthreads called outside a kernel launch");
  Sim& s = *g_sim;
  if (s.current == nullptr) die("__syncthreads called outside a kernel launch");
  s.current->state = State::Barrier;
  yield_to_scheduler(false);
}

extern "C" uint64_t kvsim_shfl(unsigned int mask, uint64_t bits, int mode, int arg, int width) {
  if (g_sim == nullptr) die("a warp operation was called outside a kernel launch");
  Sim& s = *g_sim;
  if (s.current == nullptr) die("a warp operation was called outside a kernel launch");
  Fiber& f = *s.current;
  f.mask = mask;
  f.value = bits;
  f.mode = mode;
  f.arg = arg;
  f.width = width;
  f.state = State::Warp;
  yield_to_scheduler(false);
  return f.result;
}

extern "C" unsigned char* kvsim_dynamic_smem(void) { return g_sim != nullptr ? g_sim->smem : nullptr; }

namespace kvsim {

size_t max_dynamic_smem() { return 227 * 1024; }

std::string launch(const KernelEntry& kernel, Dim3 grid, Dim3 block, size_t dynamic_smem, void** params) {
  const std::string where = std::string("kvsim: launch of ") + kernel.name + " with grid " + dims(grid.x, grid.y, grid.z) +
                            ", block " + dims(block.x, block.y, block.z) + ": ";
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    return where + "invalid grid dimensions";
  }
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
      static_cast<uint64_t>(block.x) * block.y * block.z > 1024) {
    return where + "invalid block dimensions (at most 1024 threads, z at most 64)";
  }
  if (dynamic_smem > max_dynamic_smem()) {
    return where + std::to_string(dynamic_smem) + " bytes of dynamic shared memory, more than the " +
           std::to_string(max_dynamic_smem()) + " a block can have";
  }
  const char* order = std::getenv("KVASIR_SIM_ORDER");
  bool reverse = false;
  if (order != nullptr && *order != '\0') {
    if (std::strcmp(order, "reverse") == 0) {
      reverse = true;
    } else if (std::strcmp(order, "forward") != 0) {
      return where + "KVASIR_SIM_ORDER is \"" + order + "\"; expected forward or reverse";
    }
  }

  Sim& s = sim();
  std::lock_guard<std::mutex> lock(s.mutex);
  g_sim = &s;
  const unsigned threads = block.x * block.y * block.z;
  if (s.fibers.empty()) s.fibers.resize(kMaxThreads);  // never reallocated: fibers know their stack by index
  s.threads = threads;
  s.kernel = &kernel;
  s.params = params;
  // Exactly the requested size, so that the sanitizer catches an access past its end.
  s.smem = static_cast<unsigned char*>(::operator new(dynamic_smem, std::align_val_t(16)));
  s.smem_size = dynamic_smem;
  gridDim = dim3(grid.x, grid.y, grid.z);
  blockDim = dim3(block.x, block.y, block.z);
  std::string error;
  for (unsigned z = 0; z < grid.z && error.empty(); ++z) {
    for (unsigned y = 0; y < grid.y && error.empty(); ++y) {
      for (unsigned x = 0; x < grid.x && error.empty(); ++x) {
        blockIdx = uint3{x, y, z};
        error = run_block(reverse);
        if (!error.empty()) error = where + "block " + dims(x, y, z) + ": " + error;
      }
    }
  }
  if (!error.empty()) {
    // The block's fibers were abandoned mid-kernel: their frames never returned, so the
    // sanitizer's view of their stacks is stale.
#if KVSIM_ASAN
    for (unsigned i = 0; i < threads; ++i) __asan_unpoison_memory_region(s.fibers[i].stack, s.fibers[i].stack_size);
#endif
  }
  ::operator delete(s.smem, std::align_val_t(16));
  s.smem = nullptr;
  s.smem_size = 0;
  s.kernel = nullptr;
  s.params = nullptr;
  return error;
}

}  // namespace kvsim
