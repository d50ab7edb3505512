using System.Runtime.ExceptionServices;

namespace PatchCore.Backends.Cpu;

/// <summary>
/// A fixed team of threads for the backbone's many short parallel loops (OpenMP-style): the caller plus
/// Threads-1 dedicated helpers that spin briefly between jobs, then sleep. A batch-1 ResNet pass is about
/// 40 loops of 50–500 µs; Parallel.For hands each to whichever thread-pool workers are awake, and on a 2-core
/// VM that spread the work over 3–4 runnable threads and made batch-1 throughput swing between 45 and 85
/// images/s from run to run. With one team the same two threads run every loop.
/// Indices are handed out one at a time from a shared counter, so uneven tiles still balance.
/// A loop started from inside a team loop, or while another thread is using the team, runs serially on the
/// calling thread (correct, never a deadlock).
/// </summary>
internal sealed class ThreadTeam : IDisposable
{
    /// <summary>How long an idle helper spins before it blocks: longer than the gap between two convs of a
    /// pass, far shorter than anything a user would notice as a busy core.</summary>
    const int SpinIterations = 20_000;

    readonly Thread[] helpers;
    readonly object gate = new();
    readonly object callerGate = new();
    int generation;          // bumped for each job; helpers wait for a change
    int remaining;           // helpers still working on the current job
    int next;                // next index to hand out
    int count;
    Action<int>? body;
    Exception? error;
    bool disposed;

    [ThreadStatic] static bool insideLoop;

    public ThreadTeam(int threads)
    {
        helpers = new Thread[Math.Max(0, threads - 1)];
        for (int i = 0; i < helpers.Length; i++)
        {
            helpers[i] = new Thread(HelperLoop) { IsBackground = true, Name = $"pcnative cpu {i + 1}" };
            helpers[i].Start();
        }
    }

    public int Threads => helpers.Length + 1;

    /// <summary>Runs body(i) for i in [0, count) on the team; the first exception is rethrown as itself.</summary>
    public void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || helpers.Length == 0 || insideLoop || !Monitor.TryEnter(callerGate))
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            this.body = body;
            this.count = count;
            error = null;
            Volatile.Write(ref next, 0);
            Volatile.Write(ref remaining, helpers.Length);
            lock (gate)
            {
                generation++;
                Monitor.PulseAll(gate);
            }
            Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref remaining) != 0) spin.SpinOnce(sleep1Threshold: -1);
            this.body = null;
            if (error != null) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally { Monitor.Exit(callerGate); }
    }

    void Work()
    {
        insideLoop = true;
        try
        {
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < count)
            {
                try { body!(i); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref error, e, null);
                    Volatile.Write(ref next, count); // stop handing out work
                }
            }
        }
        finally { insideLoop = false; }
    }

    void HelperLoop()
    {
        int seen = 0;
        while (true)
        {
            for (int s = 0; Volatile.Read(ref generation) == seen && s < SpinIterations; s++) Thread.SpinWait(8);
            if (Volatile.Read(ref generation) == seen)
                lock (gate)
                    while (generation == seen && !disposed) Monitor.Wait(gate);
            if (disposed) return;
            seen = Volatile.Read(ref generation);
            Work();
            Interlocked.Decrement(ref remaining);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            Monitor.PulseAll(gate);
        }
    }
}
