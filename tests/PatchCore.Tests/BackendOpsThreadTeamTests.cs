using PatchCore.Backends.Cpu;

namespace PatchCore.Tests;

/// <summary>The CPU backend's thread team: every index exactly once, errors surface as themselves, nested and
/// concurrent loops still complete.</summary>
public class BackendOpsThreadTeamTests
{
    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 1)]
    [InlineData(2, 1000)]
    [InlineData(3, 7)]
    public void EveryIndexRunsExactlyOnce(int threads, int count)
    {
        using var team = new ThreadTeam(threads);
        for (int round = 0; round < 50; round++) // many jobs back to back: the hand-over between jobs
        {
            var hits = new int[count];
            team.For(count, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void FirstExceptionIsRethrownAsItselfAndTheTeamStaysUsable()
    {
        using var team = new ThreadTeam(2);
        var e = Assert.Throws<InvalidOperationException>(() => team.For(100, i => { if (i == 37) throw new InvalidOperationException("tile 37"); }));
        Assert.Equal("tile 37", e.Message);
        int sum = 0;
        team.For(10, i => Interlocked.Add(ref sum, i));
        Assert.Equal(45, sum);
    }

    [Fact]
    public void NestedAndConcurrentLoopsComplete()
    {
        using var team = new ThreadTeam(2);
        int total = 0;
        // Nested: the inner loop runs serially on whichever thread runs the outer index.
        team.For(8, i => team.For(8, j => Interlocked.Increment(ref total)));
        Assert.Equal(64, total);
        // Concurrent callers: one gets the team, the others run serially; all finish with every index done.
        total = 0;
        Parallel.For(0, 4, _ => { for (int r = 0; r < 20; r++) team.For(50, i => Interlocked.Increment(ref total)); });
        Assert.Equal(4 * 20 * 50, total);
    }

    [Fact]
    public void HelpersThatFellAsleepWakeForTheNextJob()
    {
        using var team = new ThreadTeam(2);
        Thread.Sleep(200); // long past the spin: the helper blocks
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        var barrier = new Barrier(2);
        // Two indices that each wait for the other: completes only if the helper really runs one of them.
        team.For(2, i => { seen[Environment.CurrentManagedThreadId] = true; Assert.True(barrier.SignalAndWait(5000), "helper never ran"); });
        Assert.Equal(2, seen.Count);
    }
}
