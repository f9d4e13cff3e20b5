package dev.kvasir.kernels.cuda;

/** The 16-bit type the CUDA backend stores K and V in; names match the kernels' suffixes. */
public enum KvDtype {
    F16("kvf16"),
    BF16("kvbf16");

    /** Suffix of the kernels for f32 activations over this cache type, e.g. {@code kvasir_paged_attention_decode_f32_kvf16}. */
    final String kernelSuffix;

    KvDtype(String kernelSuffix) {
        this.kernelSuffix = kernelSuffix;
    }

    public int bytes() {
        return 2;
    }
}
