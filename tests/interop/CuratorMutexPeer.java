// A Curator InterProcessMutex contender for the lock interop tests (tests/integration/lock_interop_test.cpp).
//
//   CuratorMutexPeer HOSTS PATH contend COUNT HOLD_US   acquire/release COUNT times; one line per hold:
//                                                       "hold <czxid> <pid> 0 <enter ns> <exit ns>"
//   CuratorMutexPeer HOSTS PATH hold                    acquire, print "HELD <czxid>", release on a stdin line
//   CuratorMutexPeer HOSTS PATH try MILLIS              print "ACQUIRED <czxid>" (then release) or "TIMEOUT"
//
// Times are System.nanoTime(), i.e. CLOCK_MONOTONIC on Linux: the same clock as the C++ and Python
// peers' records, so one checker (zkt::check_mutual_exclusion) can order the holds of all of them.
// "READY" is printed once connected; `contend` then starts on a line from stdin (a common start).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorMutexPeer {
  // getLockPath() is protected: expose it to read our node's czxid (the fencing token).
  static final class Mutex extends InterProcessMutex {
    Mutex(CuratorFramework client, String path) { super(client, path); }
    String nodePath() { return getLockPath(); }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CuratorMutexPeer HOSTS PATH contend COUNT HOLD_US | hold | try MILLIS");
      System.exit(2);
    }
    // Curator and ZooKeeper log at INFO to stderr through slf4j-simple: keep test output readable.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    final String hosts = args[0], path = args[1], mode = args[2];
    final long pid = ProcessHandle.current().pid();
    CuratorFramework client = CuratorFrameworkFactory.newClient(hosts, 6000, 5000,
        new ExponentialBackoffRetry(100, 10));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.err.println("could not connect to " + hosts);
      System.exit(1);
    }
    Mutex mutex = new Mutex(client, path);
    System.out.println("READY");
    System.out.flush();
    final BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
    switch (mode) {
      case "contend": {
        stdin.readLine();
        final int count = Integer.parseInt(args[3]);
        final long holdNanos = Long.parseLong(args[4]) * 1000L;
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; ++i) {
          mutex.acquire();
          final long enter = System.nanoTime();
          final long czxid = client.checkExists().forPath(mutex.nodePath()).getCzxid();
          while (System.nanoTime() - enter < holdNanos) Thread.onSpinWait();
          final long exit = System.nanoTime();
          mutex.release();
          out.append("hold ").append(czxid).append(' ').append(pid).append(" 0 ").append(enter)
              .append(' ').append(exit).append('\n');
        }
        System.out.print(out);
        break;
      }
      case "hold": {
        mutex.acquire();
        System.out.println("HELD " + client.checkExists().forPath(mutex.nodePath()).getCzxid());
        System.out.flush();
        stdin.readLine();
        mutex.release();
        System.out.println("RELEASED");
        break;
      }
      case "try": {
        if (mutex.acquire(Long.parseLong(args[3]), TimeUnit.MILLISECONDS)) {
          System.out.println("ACQUIRED " + client.checkExists().forPath(mutex.nodePath()).getCzxid());
          mutex.release();
        } else {
          System.out.println("TIMEOUT");
        }
        break;
      }
      default:
        System.err.println("unknown mode " + mode);
        System.exit(2);
    }
    System.out.println("DONE");
    System.out.flush();
    client.close();
  }
}
