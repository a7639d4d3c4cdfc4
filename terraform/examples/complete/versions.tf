terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 6.0" # reset_on_delete (api_gateway_account.tf) is 5.x only
    }
  }
}
