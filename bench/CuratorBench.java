// The Curator 5.4 worker of bench/run.sh: the same line protocol as zkbench (see bench/README.md),
// with InterProcessMutex for the lock scenarios, DistributedAtomicLong for the counter ones,
// InterProcessReadWriteLock's read lock and InterProcessSemaphoreV2 for the read and semaphore ones.
//
//   CuratorBench HOSTS      prints {"ready":1,...}, then answers one JSON line per command line
//
// Times are System.nanoTime() (CLOCK_MONOTONIC on Linux), the clock of the other workers.
// DistributedAtomicLong retries with ExponentialBackoffRetry(2 ms base, 250 ms cap): the closest
// Curator policy to our default (2 ms .. 250 ms, full jitter).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorBench {
  static String hosts;
  static final List<CuratorFramework> extra = new ArrayList<>();
  static CuratorFramework main;

  static CuratorFramework connect() throws Exception {
    CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 10000, 30000,
        new ExponentialBackoffRetry(100, 10));
    c.start();
    if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) throw new IllegalStateException("cannot connect to " + hosts);
    return c;
  }

  static String sid(CuratorFramework c) throws Exception {
    return Long.toHexString(c.getZookeeperClient().getZooKeeper().getSessionId());
  }

  static String sessions() throws Exception {
    StringBuilder b = new StringBuilder("[\"").append(sid(main)).append('"');
    for (CuratorFramework c : extra) b.append(",\"").append(sid(c)).append('"');
    return b.append(']').toString();
  }

  static void reply(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static String array(long[] v, int n) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < n; ++i) {
      if (i != 0) b.append(',');
      b.append(v[i]);
    }
    return b.append(']').toString();
  }

  static final class Longs {
    long[] v = new long[1024];
    int n = 0;
    void add(long x) {
      if (n == v.length) v = java.util.Arrays.copyOf(v, n * 2);
      v[n++] = x;
    }
    void addAll(Longs o) { for (int i = 0; i < o.n; ++i) add(o.v[i]); }
    String json() { return array(v, n); }
  }

  static void sleepUntil(long ns) {
    for (long left; (left = ns - System.nanoTime()) > 0;) LockSupport.parkNanos(left);
  }

  static long[] readGo(BufferedReader in) throws Exception {
    String[] t = in.readLine().trim().split(" ");
    if (!t[0].equals("go")) throw new IllegalStateException("expected go");
    return new long[] {Long.parseLong(t[1]), Long.parseLong(t[2])};
  }

  static void lockLoop(InterProcessLock m, long end, Longs holds) throws Exception {
    while (System.nanoTime() < end) {
      m.acquire();
      long acquired = System.nanoTime();
      long released = System.nanoTime();
      m.release();
      holds.add(acquired);
      holds.add(released);
    }
  }

  static DistributedAtomicLong counter(CuratorFramework c, String path) {
    return new DistributedAtomicLong(c, path, new ExponentialBackoffRetry(2, 29, 250));
  }

  // One increment, repeated until it succeeds; returns the optimistic tries it took.
  static long incr(DistributedAtomicLong c) throws Exception {
    long tries = 0;
    for (;;) {
      AtomicValue<Long> v = c.increment();
      tries += v.getStats().getOptimisticTries();
      if (v.succeeded()) return tries;
    }
  }

  static String contend(String[] t, BufferedReader in) throws Exception {
    String kind = t[1], path = t[2];
    for (CuratorFramework c : extra) c.close();
    extra.clear();
    if (kind.equals("lock") || kind.equals("read")) {
      InterProcessLock m = kind.equals("lock") ? new InterProcessMutex(main, path)
                                               : new InterProcessReadWriteLock(main, path).readLock();
      reply("{\"armed\":1,\"sessions\":" + sessions() + "}");
      long[] go = readGo(in);
      Longs holds = new Longs();
      sleepUntil(go[0]);
      lockLoop(m, go[1], holds);
      return "{\"holds\":" + holds.json() + "}";
    }
    if (kind.equals("counter")) {
      DistributedAtomicLong c = counter(main, path);
      reply("{\"armed\":1,\"sessions\":" + sessions() + "}");
      long[] go = readGo(in);
      Longs lat = new Longs();
      long tries = 0;
      sleepUntil(go[0]);
      while (System.nanoTime() < go[1]) {
        long t0 = System.nanoTime();
        tries += incr(c);
        lat.add(System.nanoTime() - t0);
      }
      long finished = System.nanoTime();
      return "{\"ops\":" + lat.n + ",\"tries\":" + tries + ",\"t_end\":" + finished + ",\"lat\":" + lat.json() + "}";
    }
    if (kind.equals("threads")) {
      int n = Integer.parseInt(t[3]);
      boolean pernode = t[4].equals("pernode");
      InterProcessMutex shared = new InterProcessMutex(main, path);
      List<InterProcessMutex> locks = new ArrayList<>();
      for (int i = 0; i < n; ++i) {
        if (pernode) {
          CuratorFramework c = connect();
          extra.add(c);
          locks.add(new InterProcessMutex(c, path));
        } else {
          locks.add(shared); // one mutex object; each thread still queues its own node
        }
      }
      reply("{\"armed\":1,\"sessions\":" + sessions() + "}");
      long[] go = readGo(in);
      Longs[] holds = new Longs[n];
      Thread[] threads = new Thread[n];
      final String[] error = {null};
      for (int i = 0; i < n; ++i) {
        final int k = i;
        holds[k] = new Longs();
        threads[k] = new Thread(() -> {
          try {
            sleepUntil(go[0]);
            lockLoop(locks.get(k), go[1], holds[k]);
          } catch (Exception e) {
            error[0] = e.toString();
          }
        });
        threads[k].start();
      }
      Longs all = new Longs();
      for (int i = 0; i < n; ++i) {
        threads[i].join();
        all.addAll(holds[i]);
      }
      if (error[0] != null) throw new IllegalStateException(error[0]);
      return "{\"holds\":" + all.json() + "}";
    }
    throw new IllegalArgumentException("unsupported contend kind " + kind);
  }

  static String command(String[] t, BufferedReader in) throws Exception {
    switch (t[0]) {
      case "cycle": {
        InterProcessMutex m = new InterProcessMutex(main, t[1]);
        int count = Integer.parseInt(t[2]);
        m.acquire();
        m.release();
        Longs lat = new Longs();
        for (int i = 0; i < count; ++i) {
          long t0 = System.nanoTime();
          m.acquire();
          m.release();
          lat.add(System.nanoTime() - t0);
        }
        return "{\"lat\":" + lat.json() + "}";
      }
      case "semcycle": { // a semaphore of at most 8 leases: acquire + release
        InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(main, t[1], 8);
        int count = Integer.parseInt(t[2]);
        sem.returnLease(sem.acquire());
        Longs lat = new Longs();
        for (int i = 0; i < count; ++i) {
          long t0 = System.nanoTime();
          Lease lease = sem.acquire();
          sem.returnLease(lease);
          lat.add(System.nanoTime() - t0);
        }
        return "{\"lat\":" + lat.json() + "}";
      }
      case "incr": {
        DistributedAtomicLong c = counter(main, t[1]);
        int count = Integer.parseInt(t[2]);
        incr(c);
        Longs lat = new Longs();
        long tries = 0;
        for (int i = 0; i < count; ++i) {
          long t0 = System.nanoTime();
          tries += incr(c);
          lat.add(System.nanoTime() - t0);
        }
        return "{\"lat\":" + lat.json() + ",\"tries\":" + tries + "}";
      }
      case "contend":
        return contend(t, in);
      default:
        throw new IllegalArgumentException("unknown command " + t[0]);
    }
  }

  public static void main(String[] args) throws Exception {
    hosts = args[0];
    main = connect();
    reply("{\"ready\":1,\"sessions\":" + sessions() + "}");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null;) {
      String[] t = line.trim().split(" ");
      if (t[0].isEmpty()) continue;
      if (t[0].equals("quit")) break;
      try {
        reply(command(t, in));
      } catch (Exception e) {
        reply("{\"error\":\"" + e.toString().replace("\\", "/").replace("\"", "'") + "\"}");
      }
    }
    for (CuratorFramework c : extra) c.close();
    main.close();
  }
}
