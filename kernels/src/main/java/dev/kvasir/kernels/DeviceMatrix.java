package dev.kvasir.kernels;

/**
 * A weight matrix prepared by a {@link Backend} for matmul and row gathers: {@code rows()} rows
 * of {@code cols()} values stored as {@code type()} (a mapped file slice on the CPU).
 */
public interface DeviceMatrix {

    int rows();

    int cols();

    GgmlType type();

    String name();
}
