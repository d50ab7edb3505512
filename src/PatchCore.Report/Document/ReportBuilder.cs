using System.Globalization;
using PatchCore.ReportDocument.Inputs;
using PatchCore.ReportDocument.Plots;

namespace PatchCore.ReportDocument.Document;

/// <summary>
/// Turns the runs of a folder into the report's sections: overview, comparison with the published numbers, sweep
/// plots, stage timings per backend, one section per run (curves, histograms, per-defect-type table, heat-map
/// gallery, configuration), and the configuration of every run. Each number's table row names the run it came from,
/// and each run's configuration is printed, so every number can be traced to the exact settings that produced it.
/// </summary>
public static class ReportBuilder
{
    static readonly string[] MetricKeys = ["image_auroc", "pixel_auroc", "aupro", "f1_max"];
    static readonly string[] MetricNames = ["image AUROC", "pixel AUROC", "AUPRO (FPR ≤ 0.3)", "image F1-max"];

    /// <summary>The top-level stages of timings_s that add up to the total (decode/backbone/aggregation are parts of features).</summary>
    static readonly string[] Stages = ["load", "features", "coreset", "scoring", "maps", "calibration", "metrics", "report"];

    public static ReportContent Build(ReportInput input, PublishedNumbers published, ReportOptions options)
    {
        var sections = new List<Section>();
        if (!string.IsNullOrWhiteSpace(options.ProseMarkdown))
            sections.Add(new Section("prose", "Text", 0, [new Prose(options.ProseMarkdown)]));
        sections.Add(Overview(input));
        sections.Add(Published(input, published));
        if (input.SweptParams.Count > 0) sections.Add(Sweep(input));
        if (input.Runs.Any(r => r.FineTuning is { Count: > 0 })) sections.Add(FineTuning(input));
        sections.Add(Timings(input));
        sections.AddRange(RunSections(input, options));
        sections.Add(Configurations(input));
        string subtitle = $"{input.Runs.Count} run(s) from {input.Root}; made {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by pcnative report";
        return new ReportContent(options.Title, subtitle, sections);
    }

    static string ParamText(RunData r, IReadOnlyList<string> swept) =>
        string.Join(", ", swept.Where(r.Params.ContainsKey).Select(k => $"{k}={r.Params[k]}"));

    static Section Overview(ReportInput input)
    {
        var rows = new List<IReadOnlyList<string>>();
        var seedSwept = input.Runs.Any(r => r.Params.ContainsKey("seed"));
        var shown = seedSwept ? input.SweptParams.Append("seed").ToList() : input.SweptParams.ToList();
        foreach (var r in input.Runs)
            rows.Add([r.Id, r.Category, r.Backend, ParamText(r, shown), Format.Percent(r.Metric("image_auroc")),
                Format.Percent(r.Metric("pixel_auroc")), Format.Percent(r.Metric("aupro")), Format.Percent(r.Metric("f1_max")),
                Format.Seconds(r.Timing("total"))]);
        var categories = input.Runs.Select(r => r.Category).Distinct().ToList();
        var backends = input.Runs.Select(r => r.Backend).Distinct().ToList();
        return new Section("overview", "Overview", 1,
        [
            new Paragraph($"{input.Runs.Count} run folder(s) under {input.Root}: categories {string.Join(", ", categories)}; " +
                          $"backend(s) {string.Join(", ", backends)}" +
                          (input.SweptParams.Count > 0 ? $"; swept: {string.Join(", ", input.SweptParams)}." : ".") +
                          " Metrics are percent (AUROC, AUPRO and F1 × 100); times are wall-clock seconds of the whole run."),
            new Table("Every run: its metrics (%) and total time (s). The run column names the folder; its configuration is in the last section.",
                ["run", "category", "backend", "parameters", "image AUROC %", "pixel AUROC %", "AUPRO %", "F1-max %", "total s"], rows),
        ]);
    }

    static Section Published(ReportInput input, PublishedNumbers published)
    {
        var blocks = new List<Block>();
        var cats = input.Runs.Select(r => r.Category).Distinct().Order(StringComparer.Ordinal).ToList();
        var header = new List<string> { "category", "pcnative image AUROC % (mean ± sd, runs)" };
        header.AddRange(published.Rows.Select(p => p.Source));
        var rows = new List<IReadOnlyList<string>>();
        var catMeans = new List<double>();
        foreach (var c in cats)
        {
            var v = input.Runs.Where(r => r.Category == c && r.Metric("image_auroc") != null).Select(r => r.Metric("image_auroc")!.Value).ToList();
            var (mean, sd) = Format.MeanSd(v);
            if (v.Count > 0) catMeans.Add(mean);
            var row = new List<string> { c, v.Count == 0 ? "–" : $"{Format.PercentSd(mean, sd, v.Count)} ({v.Count})" };
            row.AddRange(published.Rows.Select(p => p.ImageAurocPercent.TryGetValue(c, out double x) ? Format.Number(x) : "–"));
            rows.Add(row);
        }
        if (catMeans.Count > 0)
        {
            var row = new List<string> { $"mean of the {catMeans.Count} measured categor{(catMeans.Count == 1 ? "y" : "ies")}", Format.Percent(catMeans.Average()) };
            row.AddRange(published.Rows.Select(p => p.ImageAurocPercent.TryGetValue("mean", out double x) ? Format.Number(x) + " (all 15)" : "–"));
            rows.Add(row);
        }
        blocks.Add(new Paragraph($"Published PatchCore image AUROC on MVTec AD, from {published.SourceNote}; a dash is a number the source does not give. " +
                                 "The published rows use WideResNet50 unless named; pcnative's default backbone is ResNet18, so the anomalib ResNet18 row is the closest comparison."));
        blocks.Add(new Table("Image AUROC (%) of pcnative against the published numbers, per category.", header, rows));

        var px = input.Runs.Select(r => r.Metric("pixel_auroc")).OfType<double>().ToList();
        var pro = input.Runs.Select(r => r.Metric("aupro")).OfType<double>().ToList();
        blocks.Add(new Table("Pixel AUROC and AUPRO (%): the mean over all runs here against the paper's mean over MVTec AD (10% coreset).",
            ["metric", "pcnative (mean over runs)", "runs", "paper"],
            [
                ["pixel AUROC", px.Count > 0 ? Format.Percent(px.Average()) : "–", px.Count.ToString(CultureInfo.InvariantCulture),
                    published.PaperPixelAurocPercent is double a ? Format.Number(a) : "–"],
                ["AUPRO", pro.Count > 0 ? Format.Percent(pro.Average()) : "–", pro.Count.ToString(CultureInfo.InvariantCulture),
                    published.PaperProPercent is double b ? Format.Number(b) : "–"],
            ]));
        return new Section("published", "Comparison with published numbers", 1, blocks);
    }

    /// <summary>One figure per (swept parameter, metric), time against the coreset fraction, and the summary table.</summary>
    static Section Sweep(ReportInput input)
    {
        var blocks = new List<Block>();
        var swept = input.SweptParams;
        blocks.Add(new Paragraph($"Swept parameters: {string.Join(", ", swept)}. Each point is the mean over the runs that differ only by seed; " +
                                 "error bars are one sample standard deviation (absent with a single seed). One line per category" +
                                 (swept.Count > 1 ? " and setting of the other swept parameters." : ".")));
        var metrics = MetricKeys.Zip(MetricNames).Select(z => (Key: z.First, Name: z.Second, Time: false)).ToList();
        foreach (var p in swept)
        {
            foreach (var (key, name, _) in metrics)
            {
                var fig = SweepFigure(input, p, r => r.Metric(key) is double v ? 100 * v : null, $"{name} (%)",
                    $"{name} against {p}: mean ± sd over seeds, per category.");
                if (fig != null) blocks.Add(fig);
            }
        }
        if (swept.Contains("coreset"))
        {
            var fig = SweepFigure(input, "coreset", r => r.Timing("total"), "total run time (s)",
                "Time of the whole run (fit + test + metrics + maps) against the coreset fraction, per category.");
            if (fig != null) blocks.Add(fig);
            fig = SweepFigure(input, "coreset", r => r.Timing("coreset"), "coreset stage time (s)",
                "Time of the coreset stage alone against the coreset fraction, per category.");
            if (fig != null) blocks.Add(fig);
        }
        blocks.Add(SweepTable(input));
        return new Section("sweep", "Sweep", 1, blocks);
    }

    /// <summary>Training curves of the runs that fine-tuned their backbone (finetune.json): train loss, held-out loss
    /// and held-out accuracy against the epoch; one figure per sweep folder and task (the tasks' losses have different
    /// scales), one line per run setting (the run folder's name without its seed), mean ± sd over seeds.</summary>
    static Section FineTuning(ReportInput input)
    {
        var runs = input.Runs.Where(r => r.FineTuning is { Count: > 0 }).ToList();
        var figures = runs.GroupBy(r => (Sweep: SweepOf(r), Task: r.Params.GetValueOrDefault("task", "fine-tuned")))
            .OrderBy(g => g.Key.Sweep, StringComparer.Ordinal).ThenBy(g => g.Key.Task, StringComparer.Ordinal).ToList();
        var blocks = new List<Block>
        {
            new Paragraph($"{runs.Count} run(s) fine-tuned their backbone before PatchCore. One set of figures per sweep and task; each line is " +
                          "one setting (its run folder's name without the seed): the mean over its seeds at each epoch, error bars one sample " +
                          "standard deviation. Held-out accuracy: the rotation task's 4-way accuracy on the held-out images, or the contrastive " +
                          "task's share of held-out views whose positive is the most similar row. Epoch 0 is the held-out state before training " +
                          "(pretrained backbone, freshly initialised head)."),
        };
        var series = new (string Name, string Unit, Func<FineTuneEpoch, double?> Value)[]
        {
            ("training loss (epoch mean)", "training loss (nats per row)", e => e.TrainLoss),
            ("held-out loss", "held-out loss (nats per row)", e => e.HeldOutLoss),
            ("held-out accuracy", "held-out accuracy (%)", e => e.HeldOutAccuracy is double a ? 100 * a : null),
        };
        foreach (var fig in figures)
        {
            var settings = fig.GroupBy(SettingName).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
            string where = (fig.Key.Sweep.Length > 0 ? $"sweep {fig.Key.Sweep}, " : "") + $"task {fig.Key.Task}";
            foreach (var (name, unit, value) in series)
            {
                var lines = new List<SweepSeries>();
                foreach (var g in settings)
                {
                    var xs = new List<double>(); var means = new List<double>(); var sds = new List<double>();
                    int epochs = g.Max(r => r.FineTuning!.Count);
                    for (int e = 0; e < epochs; e++)
                    {
                        var v = g.Where(r => r.FineTuning!.Count > e).Select(r => value(r.FineTuning![e])).OfType<double>().ToList();
                        if (v.Count == 0) continue;
                        var (m, sd) = Format.MeanSd(v);
                        // The history's own epoch number: 0 is the held-out state before training.
                        xs.Add(g.First(r => r.FineTuning!.Count > e).FineTuning![e].Epoch); means.Add(m); sds.Add(sd);
                    }
                    if (xs.Count > 0) lines.Add(new SweepSeries(g.Key, xs.ToArray(), means.ToArray(), sds.ToArray()));
                }
                if (lines.Count > 0)
                    blocks.Add(Charts.Sweep(lines, "epoch (passes over the training images)", unit,
                        $"Fine-tuning ({where}): {name} against the epoch, mean ± sd over seeds, per setting.", keyInCaption: true));
            }
        }
        return new Section("finetuning", "Fine-tuning curves", 1, blocks);
    }

    /// <summary>The sweep folder a run lives in (…/SWEEP/runs/ID), or "" for a run outside a sweep.</summary>
    static string SweepOf(RunData r)
    {
        var parts = r.Id.Split('/', '\\');
        return parts.Length >= 3 && parts[^2] == "runs" ? parts[^3] : "";
    }

    /// <summary>A run's setting: its folder name without the seed and task, "__" shown as ", ".</summary>
    static string SettingName(RunData r)
    {
        var keep = Path.GetFileName(r.Id).Split("__").Where(p => !p.StartsWith("seed=", StringComparison.Ordinal) && !p.StartsWith("task=", StringComparison.Ordinal));
        return string.Join(", ", keep);
    }

    static Figure? SweepFigure(ReportInput input, string param, Func<RunData, double?> value, string yLabel, string caption)
    {
        var others = input.SweptParams.Where(k => k != param).ToList();
        var runs = input.Runs.Where(r => r.Params.ContainsKey(param) && value(r) != null).ToList();
        if (runs.Count == 0) return null;
        var texts = runs.Select(r => r.Params[param]).Distinct().ToList();
        bool numeric = texts.All(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        if (numeric) texts = texts.OrderBy(t => double.Parse(t, CultureInfo.InvariantCulture)).ToList();
        else texts.Sort(StringComparer.Ordinal);
        var series = new List<SweepSeries>();
        foreach (var g in runs.GroupBy(r => r.Category + (others.Count > 0 ? " (" + ParamText(r, others) + ")" : "")).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var xs = new List<double>(); var means = new List<double>(); var sds = new List<double>();
            foreach (var t in texts)
            {
                var v = g.Where(r => r.Params[param] == t).Select(r => value(r)!.Value).ToList();
                if (v.Count == 0) continue;
                var (m, sd) = Format.MeanSd(v);
                xs.Add(numeric ? double.Parse(t, CultureInfo.InvariantCulture) : texts.IndexOf(t));
                means.Add(m); sds.Add(sd);
            }
            series.Add(new SweepSeries(g.Key, xs.ToArray(), means.ToArray(), sds.ToArray()));
        }
        return Charts.Sweep(series, AxisLabel(param), yLabel, caption, numeric ? null : texts.ToArray());
    }

    /// <summary>A swept parameter's axis label with its unit (the config key's meaning, README "Commands").</summary>
    static string AxisLabel(string param) => param switch
    {
        "coreset" => "coreset (fraction of patch features kept)",
        "k" => "k (nearest neighbours, count)",
        "sigma" => "sigma (Gaussian blur of the maps, pixels)",
        "resize" or "crop" => $"{param} (pixels)",
        "patch_size" => "patch size (feature-map cells)",
        "pretrain_dim" or "target_dim" or "projection_dim" => $"{param} (dimensions)",
        "start_points" => "start points (count)",
        "batch_size" => "batch size (images)",
        "threads" => "threads (count)",
        _ => param + " (as configured)",
    };

    static Table SweepTable(ReportInput input)
    {
        var swept = input.SweptParams;
        var header = new List<string> { "category" };
        header.AddRange(swept);
        header.AddRange(["seeds", "image AUROC %", "pixel AUROC %", "AUPRO %", "F1-max %", "total s (mean)"]);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var g in input.Runs.GroupBy(r => r.Category + "\u0001" + ParamText(r, swept)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var first = g.First();
            var row = new List<string> { first.Category };
            row.AddRange(swept.Select(k => first.Params.GetValueOrDefault(k, "–")));
            row.Add(g.Count().ToString(CultureInfo.InvariantCulture));
            foreach (var key in MetricKeys)
            {
                var v = g.Select(r => r.Metric(key)).OfType<double>().ToList();
                if (v.Count == 0) { row.Add("–"); continue; }
                var (m, sd) = Format.MeanSd(v);
                row.Add(Format.PercentSd(m, sd, v.Count));
            }
            var t = g.Select(r => r.Timing("total")).OfType<double>().ToList();
            row.Add(t.Count > 0 ? Format.Seconds(t.Average()) : "–");
            rows.Add(row);
        }
        return new Table("One row per category and setting of the swept parameters: mean ± sd over seeds (%), and the mean total time (s).", header, rows);
    }

    static Section Timings(ReportInput input)
    {
        var backends = input.Runs.Select(r => r.Backend).Distinct().Order(StringComparer.Ordinal).ToList();
        var allStages = input.Runs.SelectMany(r => r.Timings.Select(t => t.Key)).Distinct().ToList();
        var stages = Stages.Where(allStages.Contains).ToList();
        var extra = allStages.Where(s => !Stages.Contains(s) && s != "total").ToList();
        var seconds = new double[backends.Count, stages.Count];
        var rows = new List<IReadOnlyList<string>>();
        for (int b = 0; b < backends.Count; b++)
        {
            var runs = input.Runs.Where(r => r.Backend == backends[b]).ToList();
            var row = new List<string> { backends[b], runs.Count.ToString(CultureInfo.InvariantCulture) };
            for (int s = 0; s < stages.Count; s++)
            {
                var v = runs.Select(r => r.Timing(stages[s])).OfType<double>().ToList();
                seconds[b, s] = v.Count > 0 ? v.Average() : 0;
                row.Add(v.Count > 0 ? Format.Seconds(seconds[b, s]) : "–");
            }
            foreach (var s in extra.Append("total"))
            {
                var v = runs.Select(r => r.Timing(s)).OfType<double>().ToList();
                row.Add(v.Count > 0 ? Format.Seconds(v.Average()) : "–");
            }
            rows.Add(row);
        }
        var header = new List<string> { "backend", "runs" };
        header.AddRange(stages.Select(s => s + " s"));
        header.AddRange(extra.Select(s => s + " s"));
        header.Add("total s");
        var blocks = new List<Block>
        {
            new Paragraph("Wall-clock seconds per stage from results.json timings_s, averaged over the runs of each backend " +
                          "(runs of different categories and settings are averaged together; the per-run times are in the overview table)." +
                          (extra.Count > 0 ? $" {string.Join(", ", extra)} are parts of the stages above (e.g. decode/backbone/aggregation within features) and are not stacked." : "")),
        };
        if (stages.Count > 0)
            blocks.Add(Charts.StackedTimings(backends, stages, seconds, "Mean time per stage (s), stacked, per backend."));
        blocks.Add(new Table("Mean stage times (s) per backend.", header, rows));
        return new Section("timings", "Stage timings per backend", 1, blocks);
    }

    static IEnumerable<Section> RunSections(ReportInput input, ReportOptions options)
    {
        int detailed = Math.Min(options.MaxRunDetails, input.Runs.Count);
        var intro = new List<Block>
        {
            new Paragraph(detailed == input.Runs.Count
                ? "One section per run: its metrics, curves, score histograms, per-defect-type table and heat maps."
                : $"The first {detailed} of {input.Runs.Count} runs get a section of their own (--max-runs raises the limit); all runs are in the tables above."),
        };
        yield return new Section("runs", "Runs", 1, intro);
        for (int i = 0; i < detailed; i++) yield return RunSection(input.Runs[i], i, input.SweptParams, options);
    }

    static Section RunSection(RunData r, int index, IReadOnlyList<string> swept, ReportOptions options)
    {
        var blocks = new List<Block>();
        string name = $"{r.Id} ({r.Category}, {r.Backend})";
        var p = ParamText(r, swept.Append("seed").Distinct().ToList());
        blocks.Add(new Paragraph($"Folder {r.Folder}. {r.NTrain?.ToString(CultureInfo.InvariantCulture) ?? "?"} training images, " +
                                 $"{r.NTest?.ToString(CultureInfo.InvariantCulture) ?? "?"} test images, memory bank {r.BankSize?.ToString(CultureInfo.InvariantCulture) ?? "?"} rows" +
                                 (p.Length > 0 ? $"; {p}." : ".") + " Its configuration is listed at the end of the report."));

        var metricRows = new List<IReadOnlyList<string>>();
        for (int m = 0; m < MetricKeys.Length; m++) metricRows.Add([MetricNames[m], Format.Percent(r.Metric(MetricKeys[m]))]);
        if (r.ImageThreshold is double th) metricRows.Add(["calibrated image threshold (score)", Format.Number(th)]);
        int fa = r.Scores.Count(s => s.Truth == 0 && s.Label == 1), good = r.Scores.Count(s => s.Truth == 0);
        int miss = r.Scores.Count(s => s.Truth == 1 && s.Label == 0), bad = r.Scores.Count(s => s.Truth == 1);
        if (r.Scores.Any(s => s.Label != null))
            metricRows.Add(["false alarms / misses at the threshold", $"{fa}/{good} good, {miss}/{bad} defective"]);
        blocks.Add(new Table($"Metrics of run {name} (%).", ["metric", "value"], metricRows));

        if (r.PerDefectType.Count > 0)
        {
            var rows = r.PerDefectType.Select(t => (IReadOnlyList<string>)
                [t.Type, t.N.ToString(CultureInfo.InvariantCulture), Format.Percent(t.ImageAuroc), Format.Percent(t.PixelAuroc), Format.Percent(t.Aupro)]).ToList();
            blocks.Add(new Table($"Per defect type of run {name}: image AUROC of that type's images against all good test images, and (when recorded) pixel AUROC and AUPRO (%).",
                ["defect type", "images", "image AUROC %", "pixel AUROC %", "AUPRO %"], rows));
        }

        var c = r.Curves;
        string src = c.FromScores ? " (computed from scores.csv: the run has no curves.json)" : "";
        var roc = new List<(string, Inputs.Curve)>();
        if (c.ImageRoc != null) roc.Add(($"image (AUROC {Format.Percent(r.Metric("image_auroc"))}%)", c.ImageRoc));
        if (c.PixelRoc != null) roc.Add(($"pixel (AUROC {Format.Percent(r.Metric("pixel_auroc"))}%)", c.PixelRoc));
        if (roc.Count > 0)
            blocks.Add(Charts.Curves(roc, "false-positive rate (fraction of good images / pixels)", "true-positive rate (fraction)",
                $"ROC curves of run {name}{src}.", diagonal: true));
        var pr = new List<(string, Inputs.Curve)>();
        if (c.ImagePr != null) pr.Add(("image", c.ImagePr));
        if (c.PixelPr != null) pr.Add(("pixel", c.PixelPr));
        if (pr.Count > 0)
            blocks.Add(Charts.Curves(pr, "recall (fraction of defective images / pixels found)", "precision (fraction)",
                $"Precision-recall curves of run {name}{src}."));
        if (c.Pro != null)
            blocks.Add(Charts.Curves([($"PRO (AUPRO {Format.Percent(r.Metric("aupro"))}% up to FPR 0.3)", c.Pro)],
                "false-positive rate (fraction of good pixels)", "per-region overlap (fraction)",
                $"PRO curve of run {name}; AUPRO integrates it up to the dashed line (FPR 0.3) and divides by 0.3.", xMarker: 0.3, xMarkerLabel: "FPR 0.3"));
        if (r.Scores.Count > 0)
            blocks.Add(Charts.ScoreHistogram(r.Scores, r.ImageThreshold,
                $"Image scores of run {name}: good and defective test images (30 shared bins) and the calibrated threshold (dashed)."));
        var gallery = Gallery(r, name, options);
        if (gallery != null) blocks.Add(gallery);
        return new Section($"run-{index + 1}", $"Run {r.Id}", 2, blocks);
    }

    /// <summary>
    /// Best and worst heat maps: the best are the defective images scored highest and the good images scored lowest
    /// (the clearest calls); the worst are the defective images scored lowest and the good images scored highest
    /// (misses and false alarms first). Half of each row is good images, half defective, when there are both.
    /// </summary>
    static Gallery? Gallery(RunData r, string name, ReportOptions options)
    {
        string root = Path.Combine(r.Folder, "heatmaps");
        if (!Directory.Exists(root) || r.Scores.Count == 0) return null;
        int n = options.GalleryImages, half = Math.Max(1, n / 2);
        var bad = r.Scores.Where(s => s.Truth == 1).OrderByDescending(s => s.Score).ToList();
        var good = r.Scores.Where(s => s.Truth == 0).OrderBy(s => s.Score).ToList();
        var best = bad.Take(half).Concat(good.Take(n - Math.Min(half, bad.Count))).Take(n).ToList();
        var worst = Enumerable.Reverse(bad).Take(half).Concat(Enumerable.Reverse(good).Take(n - Math.Min(half, bad.Count))).Take(n).ToList();
        var images = new List<GalleryImage>();
        foreach (var (kind, list) in new[] { ("best", best), ("worst", worst) })
            foreach (var s in list)
            {
                string? file = HeatmapPath(root, s);
                if (file == null) continue;
                string truth = s.Truth == 1 ? "defective" : "good";
                string call = s.Label switch { 1 => ", called anomalous", 0 => ", called good", _ => "" };
                images.Add(new GalleryImage($"{kind}: {s.DefectType}/{Path.GetFileName(s.Path)}, score {Format.Number(s.Score)} ({truth}{call})",
                    HeatmapThumbnail.Load(file, options.GalleryWidth)));
            }
        if (images.Count == 0) return null;
        return new Gallery($"Heat maps of run {name}: the {n} best (clearest calls) then the {n} worst (misses and false alarms first). " +
                           "Each shows the image and its anomaly map on the model's colour scale (colour bar: score), with the ground-truth outline.", images);
    }

    static string? HeatmapPath(string root, ScoreRow s)
    {
        string file = Path.GetFileName(s.Path);
        string direct = Path.Combine(root, s.DefectType, file);
        if (File.Exists(direct)) return direct;
        // Outputs mirror the input path (OutputNames): try the path under heatmaps/ as given, less any leading "test/".
        string rel = s.Path.Replace('\\', '/');
        foreach (var candidate in new[] { rel, rel.StartsWith("test/", StringComparison.Ordinal) ? rel[5..] : rel })
        {
            string full = Path.GetFullPath(Path.Combine(root, candidate));
            if (full.StartsWith(Path.GetFullPath(root), StringComparison.Ordinal) && File.Exists(full)) return full;
        }
        return null;
    }

    static Section Configurations(ReportInput input)
    {
        var blocks = new List<Block>
        {
            new Paragraph("The exact configuration of each run (results.json \"config\": every hyperparameter, the weight file and its SHA-256), " +
                          "which produced every number above that names the run."),
        };
        foreach (var r in input.Runs) blocks.Add(new Code($"Configuration of run {r.Id} ({r.Category}, backend {r.Backend}).", r.ConfigJson));
        return new Section("configurations", "Configurations", 1, blocks);
    }
}
