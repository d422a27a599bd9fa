// A Curator InterProcessSemaphoreV2 contender for the semaphore interop tests
// (tests/integration/semaphore_interop_test.cpp).
//
//   CuratorSemaphorePeer HOSTS PATH MAX contend COUNT HOLD_US
//       COUNT leases one after another; one line per lease held:
//       "hold <czxid> <pid> 0 <enter ns> <exit ns>"
//   CuratorSemaphorePeer HOSTS PATH MAX hold     take a lease, print "HELD <czxid>", release on a
//                                                stdin line, print "RELEASED"
//   CuratorSemaphorePeer HOSTS PATH MAX try MILLIS   print "ACQUIRED <czxid>" (then release) or
//                                                    "TIMEOUT"
//
// MAX is a number (a fixed maximum) or "count:COUNT_PATH" (a SharedCount at COUNT_PATH, seeded
// with 1 if missing). Times are System.nanoTime() (CLOCK_MONOTONIC on Linux), the clock of our
// records. "READY" is printed once connected; `contend` then starts on a line from stdin.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;

public class CuratorSemaphorePeer {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: CuratorSemaphorePeer HOSTS PATH MAX contend COUNT HOLD_US | hold | try MILLIS");
      System.exit(2);
    }
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    final String hosts = args[0], path = args[1], max = args[2], mode = args[3];
    final long pid = ProcessHandle.current().pid();
    CuratorFramework client = CuratorFrameworkFactory.newClient(hosts, 6000, 5000,
        new ExponentialBackoffRetry(100, 10));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.err.println("could not connect to " + hosts);
      System.exit(1);
    }
    SharedCount count = null;
    final InterProcessSemaphoreV2 semaphore;
    if (max.startsWith("count:")) {
      count = new SharedCount(client, max.substring(6), 1);
      count.start();
      semaphore = new InterProcessSemaphoreV2(client, path, count);
    } else {
      semaphore = new InterProcessSemaphoreV2(client, path, Integer.parseInt(max));
    }
    final String leases = ZKPaths.makePath(path, "leases");
    System.out.println("READY");
    System.out.flush();
    final BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
    switch (mode) {
      case "contend": {
        stdin.readLine();
        final int n = Integer.parseInt(args[4]);
        final long holdNanos = Long.parseLong(args[5]) * 1000L;
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; ++i) {
          final Lease lease = semaphore.acquire();
          final long enter = System.nanoTime();
          final long czxid =
              client.checkExists().forPath(ZKPaths.makePath(leases, lease.getNodeName())).getCzxid();
          while (System.nanoTime() - enter < holdNanos) Thread.onSpinWait();
          final long exit = System.nanoTime();
          semaphore.returnLease(lease);
          out.append("hold ").append(czxid).append(' ').append(pid).append(" 0 ").append(enter)
              .append(' ').append(exit).append('\n');
        }
        System.out.print(out);
        break;
      }
      case "hold": {
        final Lease lease = semaphore.acquire();
        System.out.println("HELD "
            + client.checkExists().forPath(ZKPaths.makePath(leases, lease.getNodeName())).getCzxid());
        System.out.flush();
        stdin.readLine();
        semaphore.returnLease(lease);
        System.out.println("RELEASED");
        break;
      }
      case "try": {
        final Lease lease = semaphore.acquire(Long.parseLong(args[4]), TimeUnit.MILLISECONDS);
        if (lease != null) {
          System.out.println("ACQUIRED "
              + client.checkExists().forPath(ZKPaths.makePath(leases, lease.getNodeName())).getCzxid());
          semaphore.returnLease(lease);
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
    if (count != null) count.close();
    client.close();
  }
}
