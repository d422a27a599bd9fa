// A Curator InterProcessReadWriteLock contender for the read-write lock interop tests
// (tests/integration/rwlock_interop_test.cpp).
//
//   CuratorRwPeer HOSTS PATH contend COUNT HOLD_US WRITE_PERCENT
//       COUNT acquisitions, each a write with probability WRITE_PERCENT, else a read; one line per
//       hold: "hold <czxid> <pid> 0 <enter ns> <exit ns>" (a write) or "read ..." (a read)
//   CuratorRwPeer HOSTS PATH try-write MILLIS   print "ACQUIRED <czxid>" (then release) or "TIMEOUT"
//   CuratorRwPeer HOSTS PATH hold-read          read, print "HELD <czxid>", release on a stdin line
//
// Times are System.nanoTime() (CLOCK_MONOTONIC on Linux), the clock of our records, so one checker
// (zkt::check_read_write) orders the holds of every process. "READY" is printed once connected;
// `contend` then starts on a line from stdin (a common start).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorRwPeer {
  // getLockPath() is protected: expose it to read our node's czxid (the fencing token).
  static final class Writer extends InterProcessReadWriteLock.WriteLock {
    Writer(CuratorFramework client, String path) { super(client, path, null); }
    String nodePath() { return getLockPath(); }
  }
  static final class Reader extends InterProcessReadWriteLock.ReadLock {
    Reader(CuratorFramework client, String path, Writer writer) { super(client, path, null, writer); }
    String nodePath() { return getLockPath(); }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CuratorRwPeer HOSTS PATH contend COUNT HOLD_US WRITE_PERCENT | try-write MILLIS | hold-read");
      System.exit(2);
    }
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
    final Writer writer = new Writer(client, path);
    final Reader reader = new Reader(client, path, writer);
    System.out.println("READY");
    System.out.flush();
    final BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
    switch (mode) {
      case "contend": {
        stdin.readLine();
        final int count = Integer.parseInt(args[3]);
        final long holdNanos = Long.parseLong(args[4]) * 1000L;
        final int writePercent = Integer.parseInt(args[5]);
        final Random random = new Random(pid);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < count; ++i) {
          final boolean write = random.nextInt(100) < writePercent;
          if (write) writer.acquire(); else reader.acquire();
          final long enter = System.nanoTime();
          final String node = write ? writer.nodePath() : reader.nodePath();
          final long czxid = client.checkExists().forPath(node).getCzxid();
          while (System.nanoTime() - enter < holdNanos) Thread.onSpinWait();
          final long exit = System.nanoTime();
          if (write) writer.release(); else reader.release();
          out.append(write ? "hold " : "read ").append(czxid).append(' ').append(pid).append(" 0 ")
              .append(enter).append(' ').append(exit).append('\n');
        }
        System.out.print(out);
        break;
      }
      case "try-write": {
        if (writer.acquire(Long.parseLong(args[3]), TimeUnit.MILLISECONDS)) {
          System.out.println("ACQUIRED " + client.checkExists().forPath(writer.nodePath()).getCzxid());
          writer.release();
        } else {
          System.out.println("TIMEOUT");
        }
        break;
      }
      case "hold-read": {
        reader.acquire();
        System.out.println("HELD " + client.checkExists().forPath(reader.nodePath()).getCzxid());
        System.out.flush();
        stdin.readLine();
        reader.release();
        System.out.println("RELEASED");
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
