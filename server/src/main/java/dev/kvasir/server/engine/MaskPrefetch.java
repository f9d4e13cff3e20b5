package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.constraint.ConstraintState;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Computes the next token masks of a step's constrained sequences on a thread of its own while the
 * engine thread runs the forward pass (xgrammar's overlap), so sampling finds them ready. The
 * engine hands the states over when the step starts and takes them back with {@link #await}
 * before it samples or forks: the future orders every access, and nothing else touches a state
 * in between.
 */
final class MaskPrefetch implements AutoCloseable {

    private final ExecutorService thread = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kvasir-masks").daemon(true).factory());

    /** Starts the masks of every chunk that samples under a constraint; null when there is none. */
    Future<?> start(ScheduledStep step) {
        List<ConstraintState> states = null;
        for (ScheduledStep.Chunk c : step.chunks()) {
            ConstraintState state = c.sequence().constraint;
            if (!c.wantLogits() || state == null) continue;
            if (states == null) states = new ArrayList<>();
            states.add(state);
        }
        if (states == null) return null;
        List<ConstraintState> todo = states;
        return thread.submit(() -> {
            for (ConstraintState s : todo) s.prepareMask();
        });
    }

    /** Waits for {@code masks} (from {@link #start}; null: nothing to wait for); a failure there is rethrown here. */
    void await(Future<?> masks) {
        if (masks == null) return;
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    masks.get();
                    return;
                } catch (InterruptedException e) {
                    // The states must be back before anyone reads them: finish waiting, then keep the interrupt.
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) throw r;
                    if (e.getCause() instanceof Error err) throw err;
                    throw new IllegalStateException(e.getCause());
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
