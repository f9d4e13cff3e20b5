package dev.kvasir.kernels.cuda;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The parameter block of one kernel launch, reused from launch to launch so a step allocates
 * nothing. cuLaunchKernel takes an array of pointers to the argument values; each value sits in
 * its own 8-byte slot. Ints and floats are stored in a slot's low 4 bytes (x86-64 and aarch64 are
 * little-endian), which is where the driver reads a 4-byte parameter from.
 */
final class KernelArgs implements AutoCloseable {

    static final int MAX_ARGS = 24;

    private final LongPointer values = new LongPointer(MAX_ARGS);
    private final PointerPointer<LongPointer> params = new PointerPointer<>(MAX_ARGS + 1);
    private int count;

    KernelArgs() {
        for (int i = 0; i < MAX_ARGS; i++) {
            params.put(i, values.getPointer(i));
        }
        params.put(MAX_ARGS, (LongPointer) null);
    }

    KernelArgs reset() {
        count = 0;
        return this;
    }

    /** A device pointer, a size_t, a long long. */
    KernelArgs ptr(long value) {
        return put(value);
    }

    KernelArgs i64(long value) {
        return put(value);
    }

    KernelArgs i32(int value) {
        return put(value & 0xffff_ffffL);
    }

    KernelArgs f32(float value) {
        return put(Float.floatToRawIntBits(value) & 0xffff_ffffL);
    }

    private KernelArgs put(long value) {
        if (count == MAX_ARGS) throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        values.put(count++, value);
        return this;
    }

    int count() {
        return count;
    }

    PointerPointer<LongPointer> params() {
        return params;
    }

    @Override
    public void close() {
        params.close();
        values.close();
    }
}
