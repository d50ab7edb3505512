using System.Text.Json.Nodes;

namespace PatchCore.Pipeline;

/// <summary>Wall-clock seconds per stage. Decode, Backbone and Aggregation are the parts of Features.</summary>
public sealed class StageTimings
{
    public double Load, Features, Coreset, Scoring, Maps, Metrics, Report, Total;
    /// <summary>Decision thresholds: leave-one-out scoring of training images (run), F1 thresholds.</summary>
    public double Calibration;
    public double Decode, Backbone, Aggregation;

    public JsonObject ToJson() => new()
    {
        ["load"] = R(Load), ["features"] = R(Features), ["coreset"] = R(Coreset), ["scoring"] = R(Scoring),
        ["maps"] = R(Maps), ["metrics"] = R(Metrics), ["report"] = R(Report), ["calibration"] = R(Calibration), ["total"] = R(Total),
        ["decode"] = R(Decode), ["backbone"] = R(Backbone), ["aggregation"] = R(Aggregation),
    };

    static double R(double s) => Math.Round(s, 3);
}
