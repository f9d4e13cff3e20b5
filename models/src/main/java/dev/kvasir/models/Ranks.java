package dev.kvasir.models;

import dev.kvasir.kernels.AllReduceGroup;
import dev.kvasir.kernels.Backend;

import java.util.List;

/**
 * The tensor-parallel ranks of one process: one {@link Backend} per rank (rank r's CPU worker
 * group, or GPU r) and the all-reduce that joins them. {@link Backends#create(String, int, int)}
 * makes them; a {@link LlamaModel} runs on them; closing closes the all-reduce, then the backends.
 */
public record Ranks(List<Backend> backends, AllReduceGroup allReduce) implements AutoCloseable {

    public Ranks {
        backends = List.copyOf(backends);
        if (backends.isEmpty()) throw new IllegalArgumentException("no ranks");
        if (allReduce.worldSize() != backends.size()) {
            throw new IllegalArgumentException(backends.size() + " backends but an all-reduce over " + allReduce.worldSize() + " ranks");
        }
    }

    /** One backend, no tensor parallelism. */
    public static Ranks single(Backend backend) {
        return new Ranks(List.of(backend), AllReduceGroup.single());
    }

    public int size() {
        return backends.size();
    }

    public Backend get(int rank) {
        return backends.get(rank);
    }

    /** The backends' description, with the rank count when there are several. */
    public String name() {
        return size() == 1 ? get(0).name() : size() + " tensor-parallel ranks: " + get(0).name() + " each";
    }

    @Override
    public void close() {
        RuntimeException first = null;
        try {
            allReduce.close();
        } catch (RuntimeException e) {
            first = e;
        }
        for (Backend b : backends) {
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }
}
