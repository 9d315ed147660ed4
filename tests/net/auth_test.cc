// TLS material is checked when it is loaded, so a bad file gets an error that
// names the file and the cause (not "cannot listen on ..." or "empty address
// list" later from gRPC).
#include "net/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "support/fixtures.h"

namespace seedtune {
namespace {

bool MakeCertificate(const std::string& dir, const std::string& name) {
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + dir +
                          "/" + name + ".key -out " + dir + "/" + name + ".crt > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

void ExpectError(const Status& s, const std::string& words) {
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(words), std::string::npos) << s.ToString();
}

TEST(NetAuthTest, TlsMaterialErrorsNameTheFileAndTheCause) {
  const std::string dir = testing::MakeTempDir("net-auth");
  if (!MakeCertificate(dir, "a") || !MakeCertificate(dir, "b")) GTEST_SKIP() << "openssl could not make certificates";
  const std::string cert = dir + "/a.crt", key = dir + "/a.key", other_key = dir + "/b.key";
  const std::string text = dir + "/hostname";
  std::ofstream(text) << "myhost\n";

  EXPECT_TRUE(MakeServerCredentials(cert, key).ok());
  EXPECT_TRUE(MakeChannelCredentials(cert).ok());
  // The probe's cases: a non-PEM certificate, and a CA that is not one.
  ExpectError(MakeServerCredentials(text, key).status(), text + ": not a PEM certificate");
  ExpectError(MakeChannelCredentials(text).status(), text + ": not a PEM CA certificate");
  // More of the kind: a key that is not one, a key of another certificate,
  // half the pair, a directory, a missing file, a FIFO (refused by type,
  // not read forever).
  ExpectError(MakeServerCredentials(cert, text).status(), text + ": not a PEM private key");
  ExpectError(MakeServerCredentials(cert, other_key).status(), "does not match the certificate " + cert);
  ExpectError(MakeServerCredentials(cert, "").status(), "TLS needs both a certificate (--tls-cert) and a key");
  ExpectError(MakeServerCredentials(dir, key).status(), dir + ": is a directory");
  ExpectError(MakeChannelCredentials(dir + "/missing.crt").status(), dir + "/missing.crt: no such file");
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ExpectError(MakeChannelCredentials(fifo).status(), fifo);
}

}  // namespace
}  // namespace seedtune
