using System.Runtime.ExceptionServices;

namespace PatchCore.IO;

/// <summary>Parallel.For that rethrows the first worker's exception itself (not an AggregateException), so a
/// bad file surfaces as its own one-line error.</summary>
public static class Workers
{
    public static void For(int count, int threads, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }
}
