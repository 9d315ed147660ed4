// Who may talk to a coordinator: bearer tokens (metadata
// "authorization: Bearer <token>", one token per client id) and TLS
// credentials from PEM files. Without tokens every caller is trusted, and
// without a certificate the channel is plaintext (loopback and tests).
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "core/status.h"

namespace seedtune {

// token -> client id.
using ClientTokens = std::map<std::string, int>;

// Parses a tokens file: one "client-id token" per line; blank lines and
// lines starting with '#' are skipped. Ids must be in [0, clients), and
// neither an id nor a token may appear twice.
StatusOr<ClientTokens> ParseClientTokens(const std::string& text, int clients, const std::string& name);
StatusOr<ClientTokens> ReadClientTokens(const std::string& path, int clients);

// Sets *client to the id the call's bearer token belongs to (-1 when no
// tokens are configured: anyone may call). UNAUTHENTICATED when the header is
// missing, malformed or the token unknown.
grpc::Status AuthenticateCall(const grpc::ServerContext& context, const ClientTokens& tokens, int* client);

StatusOr<std::string> ReadTextFile(const std::string& path);

// Server credentials: TLS from cert + key PEM files, or insecure when both are empty.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const std::string& cert_path,
                                                                        const std::string& key_path);
// Channel credentials: TLS trusting `ca_path` (PEM), or insecure when empty.
StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const std::string& ca_path);

}  // namespace seedtune
