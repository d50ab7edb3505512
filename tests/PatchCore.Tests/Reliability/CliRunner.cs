namespace PatchCore.Tests.Reliability;

/// <summary>Cli.Main in-process with stdout/stderr captured, and the tiny category/weights/flags a whole run
/// needs to take about a second (tests using it share the "Console" collection: the console is global).</summary>
static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var o = new StringWriter();
        var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try { return (Cli.Cli.Main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    /// <summary>A tiny synthetic category ("demo") with its own random-weight file; returns the root.</summary>
    public static string TinyRoot(out string weights)
    {
        string root = PipelineTestData.TinyCategory(out _);
        weights = Path.Combine(root, "w.safetensors");
        PipelineTestData.TinyResNet(1).Save(weights);
        return root;
    }

    public static string[] TinyFlags(string root, string weights) =>
    [
        "--data-root", root, "--category", "demo", "--weights", weights, "--backend", "cpu", "--threads", "2",
        "--resize", "64", "--crop", "56", "--pretrain-dim", "64", "--target-dim", "64", "--coreset", "0.5",
        "--projection-dim", "16", "--batch-size", "4", "--sigma", "2",
    ];

    /// <summary>The flags with some values replaced (a flag given twice is a usage error).</summary>
    public static string[] With(string[] flags, params string[] pairs)
    {
        var copy = (string[])flags.Clone();
        for (int p = 0; p < pairs.Length; p += 2)
            copy[Array.IndexOf(copy, pairs[p]) + 1] = pairs[p + 1];
        return copy;
    }

    /// <summary>stderr's non-empty lines.</summary>
    public static string[] Lines(string err) => err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The failure contract: exit code, nothing on stdout, exactly one "pcnative: error" line and no stack trace.</summary>
    public static void AssertOneLineError((int Code, string Out, string Err) r, int code, params string[] mentions)
    {
        Assert.True(r.Code == code, $"exit {r.Code}, expected {code}; stderr: {r.Err}");
        var errors = Lines(r.Err).Where(l => l.StartsWith("pcnative:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("Exception", r.Err);
        foreach (var m in mentions) Assert.Contains(m, errors[0]);
    }
}
