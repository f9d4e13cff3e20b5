package dev.kvasir.bench.agents;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToDoubleFunction;

/** Three bar charts side by side: time to first token (p50, p95), prompt tokens computed per turn, prefix hit rate. */
final class AgentSessionsChart {

    private AgentSessionsChart() {}

    static void write(List<AgentSessionsBench.Result> results, Path png, String model) throws IOException {
        List<String> configs = results.stream().map(AgentSessionsBench.Result::config).toList();
        CategoryChart ttft = new CategoryChartBuilder().width(480).height(400).title("Time to first token, " + model)
                .xAxisTitle("configuration").yAxisTitle("ms").build();
        ttft.addSeries("p50", configs, values(results, r -> r.ttft(0.5)));
        ttft.addSeries("p95", configs, values(results, r -> r.ttft(0.95)));
        List<CategoryChart> charts = List.of(ttft,
                single("Prompt tokens computed per turn", "tokens", configs, values(results, AgentSessionsBench.Result::computedPerTurn)),
                single("Prefix cache hit rate", "% of prompt tokens", configs, values(results, r -> 100 * r.hitRate())));
        BitmapEncoder.saveBitmap(charts, 1, 3, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static CategoryChart single(String title, String yTitle, List<String> configs, List<Double> ys) {
        CategoryChart chart = new CategoryChartBuilder().width(480).height(400).title(title).xAxisTitle("configuration")
                .yAxisTitle(yTitle).build();
        chart.getStyler().setLegendVisible(false);
        chart.addSeries(yTitle, configs, ys);
        return chart;
    }

    /** NaN (a server that does not report cached tokens) plots as 0. */
    private static List<Double> values(List<AgentSessionsBench.Result> results, ToDoubleFunction<AgentSessionsBench.Result> f) {
        return results.stream().map(r -> {
            double v = f.applyAsDouble(r);
            return Double.isNaN(v) ? 0.0 : v;
        }).toList();
    }
}
