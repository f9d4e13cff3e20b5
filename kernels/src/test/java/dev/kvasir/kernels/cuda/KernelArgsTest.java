package dev.kvasir.kernels.cuda;

import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The launch parameter block's layout: what cuLaunchKernel will read (needs no GPU, only JavaCPP). */
class KernelArgsTest {

    @Test
    void eachParameterPointsAtItsValue() {
        try (KernelArgs args = new KernelArgs()) {
            args.reset().ptr(0x1234_5678_9abcL).i32(-7).f32(1.5f).i64(1L << 40);
            assertEquals(4, args.count());
            Pointer p0 = args.params().get(0), p1 = args.params().get(1), p2 = args.params().get(2), p3 = args.params().get(3);
            assertEquals(0x1234_5678_9abcL, new LongPointer(p0).get(0));
            // 4-byte parameters sit in the low 4 bytes of their slot.
            assertEquals(-7, new IntPointer(p1).get(0));
            assertEquals(Float.floatToRawIntBits(1.5f), new IntPointer(p2).get(0));
            assertEquals(1L << 40, new LongPointer(p3).get(0));
            assertEquals(8, p1.address() - p0.address());
            assertNull(args.params().get(KernelArgs.MAX_ARGS));
        }
    }
}
