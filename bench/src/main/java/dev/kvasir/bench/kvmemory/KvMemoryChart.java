package dev.kvasir.bench.kvmemory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** Two bar charts side by side: KV waste and peak concurrent sequences, per strategy and workload. */
final class KvMemoryChart {

    private KvMemoryChart() {}

    static void write(List<ReplayResult> results, List<String> workloads, Path png) throws IOException {
        Files.createDirectories(png.getParent());
        List<CategoryChart> charts = List.of(
                chart("KV waste (% of reserved slots)", "%", results, workloads, ReplayResult::wastePct),
                chart("Peak concurrent sequences in " + TraceReplay.BUDGET_SLOTS + " slots", "sequences",
                        results, workloads, r -> r.peakSeqs()));
        BitmapEncoder.saveBitmap(charts, 1, 2, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static CategoryChart chart(String title, String yTitle, List<ReplayResult> results,
                                       List<String> workloads, ToDoubleFunction<ReplayResult> value) {
        CategoryChart chart = new CategoryChartBuilder().width(640).height(420).title(title)
                .xAxisTitle("strategy").yAxisTitle(yTitle).build();
        List<String> labels = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            labels.add(s.label);
        }
        for (String workload : workloads) {
            List<Double> ys = new ArrayList<>();
            for (Strategy s : Strategy.values()) {
                ys.add(results.stream().filter(r -> r.workload().equals(workload) && r.strategy() == s)
                        .mapToDouble(value).findFirst().orElse(0));
            }
            chart.addSeries(workload, labels, ys);
        }
        return chart;
    }
}
