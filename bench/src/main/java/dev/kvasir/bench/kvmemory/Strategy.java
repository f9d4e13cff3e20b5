package dev.kvasir.bench.kvmemory;

/** How KV memory is handed out. */
enum Strategy {
    /** Every sequence reserves max-model-len slots up front, as systems did before paging. */
    CONTIGUOUS("contiguous"),
    /** 16-token pages on demand, nothing shared (n samples each hold a full copy of the prompt). */
    PAGED("paged"),
    /** Pages with automatic prefix caching and fork + copy-on-write for n samples. */
    PAGED_SHARED("paged+sharing");

    final String label;

    Strategy(String label) {
        this.label = label;
    }
}
