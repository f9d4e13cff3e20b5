// A fake NCCL (libnccl.so.2) for the Kvasir CPU simulator: what the Java CUDA backend's tensor
// parallelism uses of NCCL (kernels/src/main/java/dev/kvasir/kernels/cuda/NcclAllReduce.java),
// implemented on the host over the fake driver's devices (sim/driver.cpp, KVASIR_SIM_DEVICES=N), so
// that the Java side's communicator setup, grouping, counts, types and buffers are tested in CI.
//
// THIS IS NOT NCCL. No transport, no kernels, no streams: a collective runs on the calling thread
// when the last rank's call arrives. Built only into native/target/sim/lib by
// native/scripts/build-sim-libs.sh; scripts/gpu-check and scripts/kvasir never see it.
//
// The ABI is declared here from NCCL's documented nccl.h (2.29, the version JavaCPP's bindings were
// generated from; numeric values checked against org.bytedeco.cuda.global.nccl): ncclComm_t is an
// opaque pointer, the enums are plain ints.
//
// What it models:
//   * ncclCommInitAll over device ordinals (null list: 0 .. n-1): one communicator per rank, the
//     devices must exist (fake driver) and be distinct; ncclCommCount, ncclCommUserRank,
//     ncclCommCuDevice, ncclCommDestroy; ncclGetVersion (2.29.3), ncclGetErrorString;
//   * ncclAllReduce with real collective semantics: the op of every rank of the communicator must
//     arrive, with the same count, type and reduction, before any completes. Inside
//     ncclGroupStart/End the calls are recorded and submitted at the outermost ncclGroupEnd; outside
//     a group a call is submitted at once. A submission waits for the other ranks' ops from other
//     threads (one thread per rank works as with NCCL) for KVASIR_SIM_NCCL_WAIT_MS (default 2000);
//     if they do not come, real NCCL would hang (one thread driving several ranks without a group is
//     the classic case), so the sim returns ncclInvalidUsage and says why on stderr. Mismatched
//     counts, types or ops -> ncclInvalidUsage for every rank, with a message;
//   * buffers: each rank's send and receive ranges must lie inside one live allocation of that rank's
//     device (kvasir_sim_check_device_range_on) -> ncclInvalidArgument otherwise;
//   * reduction sum, prod, max, min, avg over f32, f64, f16, bf16, int32, int64, uint8/int8, uint32,
//     uint64: each element is accumulated in float (double for f64, the integer type for integers)
//     over the ranks in rank order and rounded to the type once (round to nearest even). Real NCCL
//     reduces along a ring or tree, rounding 16-bit types at every hop, so its f16/bf16 results can
//     differ from these in the last bit; f32 sums of small integers are exact in both.
// What it does not model: asynchrony and the stream (results exist when ncclGroupEnd returns),
// performance, NVLink/PCIe topology, multiple processes (ncclGetUniqueId/ncclCommInitRank), the
// other collectives (each returns ncclInvalidUsage naming itself), hangs (a wait times out instead).
#include "fp16.h"
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

extern "C" {
int kvasir_sim_device_count(void);
int kvasir_sim_check_device_range_on(int device, const char* call, const char* which, const void* p, size_t bytes);
}

namespace {

// nccl.h's values (NCCL 2.29).
enum ncclResult_t {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
};
enum ncclDataType_t {
  ncclInt8 = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9,
  ncclNumTypes = 12,
};
enum ncclRedOp_t { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4, ncclNumOps = 5 };
constexpr int kVersionCode = 22903;  // NCCL_VERSION(2, 29, 3) = 2 * 10000 + 29 * 100 + 3

struct Clique;

struct Comm {
  Clique* clique;
  int rank;
  int device;
  bool destroyed = false;
};

struct Op {
  Comm* comm;
  const void* send;
  void* recv;
  size_t count;
  int type;
  int op;
};

// The communicators of one ncclCommInitAll, and the collective now gathering their ops.
struct Clique {
  int size;
  int live;                    // communicators not yet destroyed
  std::vector<const Op*> slot;  // each rank's op of the pending collective, or null
  int filled = 0;
  uint64_t generation = 0;     // bumped when a collective completes
  ncclResult_t result = ncclSuccess;
};

std::mutex mu;  // guards every Clique and comms
std::condition_variable done;
std::set<Comm*> comms;
thread_local int groupDepth = 0;
thread_local std::vector<Op> groupOps;
thread_local ncclResult_t groupError = ncclSuccess;

const char* typeName(int t) {
  static const char* names[] = {"ncclInt8", "ncclUint8",   "ncclInt32",   "ncclUint32",
                                "ncclInt64", "ncclUint64", "ncclFloat16", "ncclFloat32",
                                "ncclFloat64", "ncclBfloat16", "ncclFloat8e4m3", "ncclFloat8e5m2"};
  return t >= 0 && t < ncclNumTypes ? names[t] : "an unknown type";
}

const char* opName(int o) {
  static const char* names[] = {"ncclSum", "ncclProd", "ncclMax", "ncclMin", "ncclAvg"};
  return o >= 0 && o < ncclNumOps ? names[o] : "an unknown op";
}

size_t typeBytes(int t) {
  switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;  // fp8: not simulated
  }
}

long waitMs() {
  const char* env = std::getenv("KVASIR_SIM_NCCL_WAIT_MS");
  if (env != nullptr && *env != 0) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != nullptr && *end == 0 && v >= 0) return v;
  }
  return 2000;
}

// ---- 16-bit floats, bit-exact, round to nearest even ----





template <typename A>
A combine(A acc, A v, int op) {
  switch (op) {
    case ncclProd: return acc * v;
    case ncclMax: return std::max(acc, v);
    case ncclMin: return std::min(acc, v);
    default: return acc + v;  // sum, avg
  }
}

// Reduces element i over the ops (in rank order) in accumulator type A, loading with load.
template <typename A, typename T, typename Load, typename Store>
void reduce(const std::vector<const Op*>& ops, size_t count, int op, Load load, Store store) {
  size_t n = ops.size();
  std::vector<T> out(count);
  for (size_t i = 0; i < count; i++) {
    A acc = load(static_cast<const T*>(ops[0]->send)[i]);
    for (size_t r = 1; r < n; r++) acc = combine<A>(acc, load(static_cast<const T*>(ops[r]->send)[i]), op);
    if (op == ncclAvg) acc = acc / static_cast<A>(n);
    out[i] = store(acc);
  }
  // Every rank's send buffer was read before any receive buffer is written: in place is safe.
  for (const Op* o : ops) std::memcpy(o->recv, out.data(), count * sizeof(T));
}

template <typename T>
void reducePlain(const std::vector<const Op*>& ops, size_t count, int op) {
  reduce<T, T>(ops, count, op, [](T v) { return v; }, [](T v) { return v; });
}

void execute(const std::vector<const Op*>& ops) {
  size_t count = ops[0]->count;
  int op = ops[0]->op;
  switch (ops[0]->type) {
    case ncclFloat32: reducePlain<float>(ops, count, op); break;
    case ncclFloat64: reducePlain<double>(ops, count, op); break;
    case ncclInt8: reducePlain<int8_t>(ops, count, op); break;
    case ncclUint8: reducePlain<uint8_t>(ops, count, op); break;
    case ncclInt32: reducePlain<int32_t>(ops, count, op); break;
    case ncclUint32: reducePlain<uint32_t>(ops, count, op); break;
    case ncclInt64: reducePlain<int64_t>(ops, count, op); break;
    case ncclUint64: reducePlain<uint64_t>(ops, count, op); break;
    case ncclFloat16: reduce<float, uint16_t>(ops, count, op, kvsim_fp::f16_to_f32, kvsim_fp::f32_to_f16); break;
    case ncclBfloat16: reduce<float, uint16_t>(ops, count, op, kvsim_fp::bf16_to_f32, kvsim_fp::f32_to_bf16); break;
  }
}

// Adds the ops (of one clique, at most one per rank) to its pending collective, runs it when every
// rank's op is there, else waits for the other threads' ops. Called with the lock held.
ncclResult_t submit(std::unique_lock<std::mutex>& lock, Clique* c, const std::vector<const Op*>& ops, bool grouped) {
  for (const Op* o : ops) {
    if (c->slot[o->comm->rank] != nullptr) {
      std::fprintf(stderr,
                   "kvasir-sim nccl: rank %d of %d already has a collective waiting for the other ranks; a second one "
                   "before it completes would hang real NCCL\n",
                   o->comm->rank, c->size);
      for (const Op* p : ops) {  // take back this submission's ops placed so far
        if (p == o) break;
        c->slot[p->comm->rank] = nullptr;
        c->filled--;
      }
      return ncclInvalidUsage;
    }
    c->slot[o->comm->rank] = o;
    c->filled++;
  }
  if (c->filled == c->size) {
    const Op* first = c->slot[0];
    ncclResult_t r = ncclSuccess;
    for (int k = 1; k < c->size; k++) {
      const Op* o = c->slot[k];
      if (o->count != first->count || o->type != first->type || o->op != first->op) {
        std::fprintf(stderr,
                     "kvasir-sim nccl: ncclAllReduce of the %d ranks does not match: rank 0 has %zu x %s %s, rank %d "
                     "%zu x %s %s; real NCCL would hang or corrupt memory\n",
                     c->size, first->count, typeName(first->type), opName(first->op), k, o->count, typeName(o->type),
                     opName(o->op));
        r = ncclInvalidUsage;
        break;
      }
    }
    if (r == ncclSuccess) execute(c->slot);
    std::fill(c->slot.begin(), c->slot.end(), nullptr);
    c->filled = 0;
    c->result = r;
    c->generation++;
    done.notify_all();
    return r;
  }
  uint64_t gen = c->generation;
  long ms = waitMs();
  if (done.wait_for(lock, std::chrono::milliseconds(ms), [&] { return c->generation != gen; })) return c->result;
  std::string missing;
  for (int k = 0; k < c->size; k++)
    if (c->slot[k] == nullptr) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
  for (const Op* o : ops) c->slot[o->comm->rank] = nullptr;
  c->filled -= static_cast<int>(ops.size());
  std::fprintf(stderr,
               "kvasir-sim nccl: ncclAllReduce%s of rank(s) of a %d-rank communicator waited %ld ms for rank(s) %s, "
               "whose calls never came; real NCCL would hang here. One thread driving several ranks must put their "
               "calls between ncclGroupStart and ncclGroupEnd\n",
               grouped ? " (grouped)" : " outside a group", c->size, ms, missing.c_str());
  return ncclInvalidUsage;
}

bool liveComm(const Comm* c) { return c != nullptr && comms.count(const_cast<Comm*>(c)) != 0 && !c->destroyed; }

}  // namespace

extern "C" {

typedef Comm* ncclComm_t;

const char* ncclGetErrorString(int result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}
const char* pncclGetErrorString(int result) { return ncclGetErrorString(result); }

const char* ncclGetLastError(ncclComm_t) { return "the Kvasir simulator's NCCL writes its errors to stderr"; }
const char* pncclGetLastError(ncclComm_t c) { return ncclGetLastError(c); }

int ncclGetVersion(int* version) {
  if (version == nullptr) return ncclInvalidArgument;
  *version = kVersionCode;
  return ncclSuccess;
}
int pncclGetVersion(int* version) { return ncclGetVersion(version); }

int ncclCommInitAll(ncclComm_t* out, int ndev, const int* devlist) {
  if (out == nullptr || ndev < 1) {
    std::fprintf(stderr, "kvasir-sim nccl: ncclCommInitAll: %s\n", out == nullptr ? "null comms" : "ndev < 1");
    return ncclInvalidArgument;
  }
  int devices = kvasir_sim_device_count();
  std::set<int> seen;
  for (int r = 0; r < ndev; r++) {
    int d = devlist == nullptr ? r : devlist[r];
    if (d < 0 || d >= devices) {
      std::fprintf(stderr,
                   "kvasir-sim nccl: ncclCommInitAll: rank %d's device %d does not exist (the simulator has %d; set "
                   "KVASIR_SIM_DEVICES)\n",
                   r, d, devices);
      return ncclInvalidArgument;
    }
    if (!seen.insert(d).second) {
      std::fprintf(stderr, "kvasir-sim nccl: ncclCommInitAll: device %d is listed twice\n", d);
      return ncclInvalidUsage;
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  auto* c = new Clique{ndev, ndev, std::vector<const Op*>(static_cast<size_t>(ndev), nullptr)};
  for (int r = 0; r < ndev; r++) {
    auto* comm = new Comm{c, r, devlist == nullptr ? r : devlist[r]};
    comms.insert(comm);
    out[r] = comm;
  }
  return ncclSuccess;
}
int pncclCommInitAll(ncclComm_t* out, int ndev, const int* devlist) { return ncclCommInitAll(out, ndev, devlist); }

int ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclSuccess;  // as NCCL
  std::lock_guard<std::mutex> lock(mu);
  if (!liveComm(comm)) {
    std::fprintf(stderr, "kvasir-sim nccl: ncclCommDestroy(%p): not a live communicator\n", static_cast<void*>(comm));
    return ncclInvalidArgument;
  }
  comms.erase(comm);
  Clique* c = comm->clique;
  delete comm;
  if (--c->live == 0) delete c;
  return ncclSuccess;
}
int pncclCommDestroy(ncclComm_t comm) { return ncclCommDestroy(comm); }

int ncclCommCount(ncclComm_t comm, int* count) {
  std::lock_guard<std::mutex> lock(mu);
  if (!liveComm(comm) || count == nullptr) return ncclInvalidArgument;
  *count = comm->clique->size;
  return ncclSuccess;
}
int pncclCommCount(ncclComm_t comm, int* count) { return ncclCommCount(comm, count); }

int ncclCommUserRank(ncclComm_t comm, int* rank) {
  std::lock_guard<std::mutex> lock(mu);
  if (!liveComm(comm) || rank == nullptr) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}
int pncclCommUserRank(ncclComm_t comm, int* rank) { return ncclCommUserRank(comm, rank); }

int ncclCommCuDevice(ncclComm_t comm, int* device) {
  std::lock_guard<std::mutex> lock(mu);
  if (!liveComm(comm) || device == nullptr) return ncclInvalidArgument;
  *device = comm->device;
  return ncclSuccess;
}
int pncclCommCuDevice(ncclComm_t comm, int* device) { return ncclCommCuDevice(comm, device); }

int ncclGroupStart(void) {
  if (groupDepth++ == 0) {
    groupOps.clear();
    groupError = ncclSuccess;
  }
  return ncclSuccess;
}
int pncclGroupStart(void) { return ncclGroupStart(); }

int ncclGroupEnd(void) {
  if (groupDepth == 0) {
    std::fprintf(stderr, "kvasir-sim nccl: ncclGroupEnd without ncclGroupStart\n");
    return ncclInvalidUsage;
  }
  if (--groupDepth > 0) return ncclSuccess;
  std::vector<Op> ops;
  ops.swap(groupOps);
  if (groupError != ncclSuccess) return groupError;  // a call in the group failed: nothing runs
  // By clique, in the order of their first op; at most one op per rank (what Kvasir needs).
  std::vector<Clique*> order;
  std::map<Clique*, std::vector<const Op*>> byClique;
  for (const Op& o : ops) {
    auto& v = byClique[o.comm->clique];
    if (v.empty()) order.push_back(o.comm->clique);
    for (const Op* p : v) {
      if (p->comm == o.comm) {
        std::fprintf(stderr,
                     "kvasir-sim nccl: two collectives on rank %d's communicator in one group: real NCCL runs them in "
                     "order, the simulator takes one per rank and group\n",
                     o.comm->rank);
        return ncclInvalidUsage;
      }
    }
    v.push_back(&o);
  }
  std::unique_lock<std::mutex> lock(mu);
  ncclResult_t result = ncclSuccess;
  for (Clique* c : order) {
    for (const Op* o : byClique[c]) {
      if (!liveComm(o->comm)) {
        std::fprintf(stderr, "kvasir-sim nccl: ncclGroupEnd: a communicator was destroyed inside the group\n");
        return ncclInvalidUsage;
      }
    }
    ncclResult_t r = submit(lock, c, byClique[c], true);
    if (result == ncclSuccess) result = r;
  }
  return result;
}
int pncclGroupEnd(void) { return ncclGroupEnd(); }

int ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, int datatype, int op, ncclComm_t comm,
                  void* /*stream: the simulator runs the collective when it completes*/) {
  ncclResult_t r = ncclSuccess;
  Op o{comm, sendbuff, recvbuff, count, datatype, op};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!liveComm(comm)) {
      std::fprintf(stderr, "kvasir-sim nccl: ncclAllReduce: %p is not a live communicator\n", static_cast<void*>(comm));
      r = ncclInvalidArgument;
    } else if (datatype < 0 || datatype >= ncclNumTypes || typeBytes(datatype) == 0) {
      std::fprintf(stderr, "kvasir-sim nccl: ncclAllReduce: data type %d (%s) is not simulated\n", datatype,
                   typeName(datatype));
      r = ncclInvalidArgument;
    } else if (op < 0 || op >= ncclNumOps) {
      std::fprintf(stderr, "kvasir-sim nccl: ncclAllReduce: reduction %d is not a built-in op\n", op);
      r = ncclInvalidArgument;
    } else if (count > 0 && (sendbuff == nullptr || recvbuff == nullptr)) {
      std::fprintf(stderr, "kvasir-sim nccl: ncclAllReduce: null buffer\n");
      r = ncclInvalidArgument;
    }
  }
  if (r == ncclSuccess) {
    size_t bytes = count * typeBytes(datatype);
    if (!kvasir_sim_check_device_range_on(comm->device, "ncclAllReduce", "send buffer", sendbuff, bytes) ||
        !kvasir_sim_check_device_range_on(comm->device, "ncclAllReduce", "receive buffer", recvbuff, bytes))
      r = ncclInvalidArgument;
  }
  if (groupDepth > 0) {
    if (r != ncclSuccess) {
      if (groupError == ncclSuccess) groupError = r;
    } else {
      groupOps.push_back(o);
    }
    return r;
  }
  if (r != ncclSuccess) return r;
  std::unique_lock<std::mutex> lock(mu);
  std::vector<const Op*> one{&o};
  return submit(lock, comm->clique, one, false);
}
int pncclAllReduce(const void* s, void* r, size_t n, int t, int o, ncclComm_t c, void* st) {
  return ncclAllReduce(s, r, n, t, o, c, st);
}

}  // extern "C"

// The rest of what libjninccl.so links against: present so that the JNI library loads and a call
// fails loudly (ncclInvalidUsage and a line on stderr) instead of killing the JVM with an undefined
// symbol. Their arguments are ignored, which the C calling convention allows for an int result.
#define KVASIR_NCCL_UNSIMULATED(name)                                                                     \
  extern "C" int name() {                                                                                 \
    std::fprintf(stderr, "kvasir-sim nccl: %s is not simulated (the simulator has what Kvasir uses)\n", #name); \
    return ncclInvalidUsage;                                                                              \
  }                                                                                                       \
  extern "C" int p##name() { return name(); }
KVASIR_NCCL_UNSIMULATED(ncclAllGather)
KVASIR_NCCL_UNSIMULATED(ncclAlltoAll)
KVASIR_NCCL_UNSIMULATED(ncclBcast)
KVASIR_NCCL_UNSIMULATED(ncclBroadcast)
KVASIR_NCCL_UNSIMULATED(ncclCommAbort)
KVASIR_NCCL_UNSIMULATED(ncclCommDeregister)
KVASIR_NCCL_UNSIMULATED(ncclCommFinalize)
KVASIR_NCCL_UNSIMULATED(ncclCommGetAsyncError)
KVASIR_NCCL_UNSIMULATED(ncclCommGetUniqueId)
KVASIR_NCCL_UNSIMULATED(ncclCommGrow)
KVASIR_NCCL_UNSIMULATED(ncclCommInitRank)
KVASIR_NCCL_UNSIMULATED(ncclCommInitRankConfig)
KVASIR_NCCL_UNSIMULATED(ncclCommInitRankScalable)
KVASIR_NCCL_UNSIMULATED(ncclCommRegister)
KVASIR_NCCL_UNSIMULATED(ncclCommRevoke)
KVASIR_NCCL_UNSIMULATED(ncclCommShrink)
KVASIR_NCCL_UNSIMULATED(ncclCommSplit)
KVASIR_NCCL_UNSIMULATED(ncclCommWindowDeregister)
KVASIR_NCCL_UNSIMULATED(ncclCommWindowRegister)
KVASIR_NCCL_UNSIMULATED(ncclGather)
KVASIR_NCCL_UNSIMULATED(ncclGetUniqueId)
KVASIR_NCCL_UNSIMULATED(ncclGroupSimulateEnd)
KVASIR_NCCL_UNSIMULATED(ncclMemAlloc)
KVASIR_NCCL_UNSIMULATED(ncclMemFree)
KVASIR_NCCL_UNSIMULATED(ncclPutSignal)
KVASIR_NCCL_UNSIMULATED(ncclRecv)
KVASIR_NCCL_UNSIMULATED(ncclRedOpCreatePreMulSum)
KVASIR_NCCL_UNSIMULATED(ncclRedOpDestroy)
KVASIR_NCCL_UNSIMULATED(ncclReduce)
KVASIR_NCCL_UNSIMULATED(ncclReduceScatter)
KVASIR_NCCL_UNSIMULATED(ncclScatter)
KVASIR_NCCL_UNSIMULATED(ncclSend)
KVASIR_NCCL_UNSIMULATED(ncclSignal)
KVASIR_NCCL_UNSIMULATED(ncclWaitSignal)
KVASIR_NCCL_UNSIMULATED(ncclWinGetUserPtr)

extern "C" void ncclResetDebugInit() {}
extern "C" void pncclResetDebugInit() {}
