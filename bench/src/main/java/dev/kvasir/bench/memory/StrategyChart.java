package dev.kvasir.bench.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/** The memory-strategy table as bar charts: the three shares side by side, and retrieval latency. */
final class StrategyChart {

    private StrategyChart() {}

    static void write(List<StrategyScore.Row> rows, Path png) throws IOException {
        Files.createDirectories(png.getParent());
        List<String> policies = rows.stream().map(StrategyScore.Row::policy).toList();
        CategoryChart shares = new CategoryChartBuilder().width(720).height(420).title("Memory policies (higher is better, but overflow)")
                .xAxisTitle("policy").yAxisTitle("%").build();
        series(shares, "utilization", policies, rows, StrategyScore.Row::utilPct);
        series(shares, "accuracy", policies, rows, StrategyScore.Row::accuracyPct);
        series(shares, "overflow", policies, rows, StrategyScore.Row::overflowPct);
        CategoryChart latency = new CategoryChartBuilder().width(560).height(420).title("Retrieval latency, embedding included")
                .xAxisTitle("policy").yAxisTitle("ms").build();
        series(latency, "p50", policies, rows, StrategyScore.Row::p50Ms);
        series(latency, "p99", policies, rows, StrategyScore.Row::p99Ms);
        BitmapEncoder.saveBitmap(List.of(shares, latency), 1, 2, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static void series(CategoryChart chart, String name, List<String> policies, List<StrategyScore.Row> rows,
                               ToDoubleFunction<StrategyScore.Row> value) {
        chart.addSeries(name, policies, rows.stream().map(r -> value.applyAsDouble(r)).toList());
    }
}
