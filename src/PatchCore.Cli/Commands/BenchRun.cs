namespace PatchCore.Cli.Commands;

public static class BenchRun
{
    public static int Run(BenchCommand o) => throw new NotImplementedException("bench run");
}
